{{ .Labels | len | printf "%d labels" }}

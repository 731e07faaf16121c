{{ .Labels }} {{ len .Labels }}

{{ .Job | printf "%s!" }}

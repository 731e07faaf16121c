{{ with .Job }}job={{ . }}{{ end }}

{{ if .Job }}a{{ else }}b{{ else }}c{{ end }}

{{ define "x" }}{{ .Job }}{{ end }}{{ template "x" }}

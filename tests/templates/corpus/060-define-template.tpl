{{ define "greet" }}hello {{ . }}{{ end }}{{ template "greet" .Job }}

{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" }}

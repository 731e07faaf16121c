{{ define x }}{{ end }}

{{ range }}{{ end }}

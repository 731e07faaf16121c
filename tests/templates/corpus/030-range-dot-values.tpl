{{ range . }}[{{ . }}]{{ end }}

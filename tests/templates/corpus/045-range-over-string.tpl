{{ range "abc" }}{{ . }}{{ end }}

{{ range .Labels }}{{ . }}{{ else if true }}x{{ end }}

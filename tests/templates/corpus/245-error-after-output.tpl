{{ range .Labels }}{{ . }}
{{ end }}{{ div 1 0 }}

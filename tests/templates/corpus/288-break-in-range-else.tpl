{{ range slice .Labels 0 0 }}a{{ else }}{{ break }}{{ end }}

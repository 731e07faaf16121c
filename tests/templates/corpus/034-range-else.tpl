{{ range slice .Labels 0 0 }}x{{ else }}empty{{ end }}

{{ range .Labels }}{{ with . }}{{ if eq . "app" }}{{ continue }}{{ end }}{{ . }}{{ end }};{{ end }}

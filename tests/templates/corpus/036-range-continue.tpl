{{ range .Labels }}{{ if eq . "db" }}{{ continue }}{{ end }}{{ . }};{{ end }}

{{ range .Labels }}{{ $.Job }}-{{ . }} {{ end }}

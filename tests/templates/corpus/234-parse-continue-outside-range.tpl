{{ if true }}{{ continue }}{{ end }}

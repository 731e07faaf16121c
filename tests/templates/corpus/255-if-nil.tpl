{{ if nil }}t{{ end }}

{{ range .Labels }}<{{ . }}>{{ end }}

{{ if ne .CurrentVersion .NewVersion }}upgrade from {{ .CurrentVersion }} to {{ .NewVersion }}{{ else }}steady{{ end }}

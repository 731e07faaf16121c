{{ range keys "vars/bucket" }}{{ . }}
{{ end }}
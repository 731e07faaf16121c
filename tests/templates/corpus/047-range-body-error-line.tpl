{{ range .Labels }}
{{ get "vars/bucket" . }}
{{ end }}

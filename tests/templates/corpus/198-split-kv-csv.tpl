{{ range split (get "vars/bucket" "csv") "," }}[{{ . }}]{{ end }}

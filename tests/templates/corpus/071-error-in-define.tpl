{{ define "d" }}
line2 {{ get "vars/bucket" "nope" }}
{{ end }}x{{ template "d" }}

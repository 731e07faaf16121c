{{ define "unused" }}never{{ end }}

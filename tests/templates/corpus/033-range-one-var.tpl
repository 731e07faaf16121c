{{ range $l := .Labels }}{{ $l }},{{ end }}

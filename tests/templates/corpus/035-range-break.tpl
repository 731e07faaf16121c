{{ range $i, $l := .Labels }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $l }};{{ end }}

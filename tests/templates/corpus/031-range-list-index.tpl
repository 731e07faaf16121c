{{ range $i, $l := .Labels }}{{ $i }}:{{ $l }} {{ end }}

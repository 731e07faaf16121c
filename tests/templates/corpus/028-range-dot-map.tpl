{{ range $k, $v := . }}{{ $k }}={{ $v }}
{{ end }}
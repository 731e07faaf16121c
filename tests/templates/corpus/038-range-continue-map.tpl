{{ range $k, $v := . }}{{ if ne $k "Job" }}{{ continue }}{{ end }}{{ $k }}={{ $v }}{{ end }}

{{ range keys (printf "vars/job/%s" .Job) }}{{ . }}={{ get (printf "vars/job/%s" $.Job) . }}
{{ end }}
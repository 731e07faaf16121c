{{ range $i, $p := split (get (printf "vars/job/%s" .Job) "peers") "," }}{{ if $i }}, {{ end }}"{{ $p }}"{{ end }}

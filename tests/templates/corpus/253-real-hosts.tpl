{{ range $i, $w := split (get "maand/worker" "app_workers") "," }}{{ $w }} app-{{ $i }}
{{ end }}
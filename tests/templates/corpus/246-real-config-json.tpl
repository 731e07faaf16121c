{
  "cluster": "{{ get "vars/bucket" "cluster" }}",
  "version": "{{ .NewVersion }}",
  "worker": "{{ .WorkerIP }}",
  "peers": [{{ range $i, $p := split (get (printf "vars/job/%s" .Job) "peers") "," }}{{ if $i }}, {{ end }}{{ printf "%q" $p }}{{ end }}],
  "labels": {{ printf "%q" .Labels }}
}

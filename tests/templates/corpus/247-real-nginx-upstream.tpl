upstream backend {
{{- range split (get (printf "vars/job/%s" .Job) "peers") "," }}
    server {{ . }}:8080 max_fails=3;
{{- end }}
}
server {
    listen {{ .WorkerIP }}:80;
    location / { proxy_pass http://backend; }
}

service:
  name: {{ get (printf "vars/job/%s" .Job) "name" }}
  replicas: {{ get (printf "vars/job/%s" .Job) "replicas" }}
  labels:
{{- range .Labels }}
    - {{ . }}
{{- end }}
  {{- with getOptional "vars/bucket" "cluster" }}
  cluster: {{ . }}
  {{- end }}

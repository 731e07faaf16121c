{{- $m := int (get "vars/bucket" "memory") -}}
{{- if and (ge $m 2048) (eq (get "vars/bucket" "cluster") "prod-east") -}}
heap=-Xmx{{ div $m 2 }}m
{{ else -}}
heap=-Xmx512m
{{ end -}}

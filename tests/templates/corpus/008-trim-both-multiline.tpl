line1
  {{- if true -}}
  yes
  {{- end -}}

line3

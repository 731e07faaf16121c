{{ if "" }}t{{ else }}f{{ end }} {{ if "x" }}t{{ end }} {{ if 0 }}t{{ else }}f{{ end }} {{ if .Labels }}t{{ end }} {{ if slice .Labels 0 0 }}t{{ else }}f{{ end }}

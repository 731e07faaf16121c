{{ with .Labels }}{{ with index . 0 }}first={{ . }}{{ end }}{{ end }}

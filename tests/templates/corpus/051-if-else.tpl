{{ if eq .Job "x" }}x{{ else }}not x{{ end }}

{{ if eq .Job "nope" }}a{{ else if eq .WorkerIP "10.0.0.1" }}b{{ else }}c{{ end }}

{{ template "later" . }}
{{ define "later" }}{{ .WorkerIP }}{{ end }}
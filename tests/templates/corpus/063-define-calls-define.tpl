{{ define "a" }}<{{ template "b" . }}>{{ end }}{{ define "b" }}{{ upper . }}{{ end }}{{ template "a" "x" }}

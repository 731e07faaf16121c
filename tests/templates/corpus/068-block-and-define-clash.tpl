{{ define "b" }}override{{ end }}{{ block "b" . }}default{{ end }}

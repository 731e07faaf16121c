{{ block "b" .Job }}default {{ . }}{{ end }}

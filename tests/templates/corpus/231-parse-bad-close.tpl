line1
{{ .Job }

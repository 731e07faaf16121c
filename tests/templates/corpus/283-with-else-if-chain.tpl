{{ with getOptional "vars/bucket" "nope" }}a{{ else }}{{ if .Job }}b{{ end }}{{ end }}

{{ with getOptional "vars/bucket" "missing" }}{{ . }}{{ else }}default{{ end }}

{{ define "count" }}{{ if gt . 0 }}{{ . }} {{ template "count" (sub . 1) }}{{ end }}{{ end }}{{ template "count" 5 }}

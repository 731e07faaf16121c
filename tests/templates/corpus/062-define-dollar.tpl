{{ define "d" }}{{ $ }}{{ end }}{{ template "d" "arg" }}

{{ define "x" }}

{{ nope }}{{ end }}ok

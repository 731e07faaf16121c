ok
{{ .Nope }}

{{ if false }}{{ $x := 1 }}{{ else }}{{ $x }}{{ end }}

{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}

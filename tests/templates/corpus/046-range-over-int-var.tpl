{{ $n := 3 }}{{ range $i, $x := $n }}{{ $i }}{{ end }}

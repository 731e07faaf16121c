{{ $n := 0 }}{{ range .Labels }}{{ $n = add $n 1 }}{{ end }}{{ $n }}

{{ $i := 0 }}{{ $v := "" }}{{ range $i, $v = .Labels }}{{ end }}{{ $i }} {{ $v }}

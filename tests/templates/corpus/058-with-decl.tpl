{{ with $x := .WorkerIP }}{{ $x }}/{{ . }}{{ end }}

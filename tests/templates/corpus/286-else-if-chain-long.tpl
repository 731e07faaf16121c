{{ $n := len .Labels }}{{ if eq $n 1 }}one{{ else if eq $n 2 }}two{{ else if eq $n 3 }}three{{ else }}many{{ end }}

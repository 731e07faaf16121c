{{ $flag := false }}{{ range .Labels }}{{ if eq . "db" }}{{ $flag = true }}{{ end }}{{ end }}{{ $flag }}

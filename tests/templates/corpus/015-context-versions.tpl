{{ .CurrentVersion }} -> {{ .NewVersion }}

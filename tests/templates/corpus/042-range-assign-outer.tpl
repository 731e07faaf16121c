{{ $last := "" }}{{ range .Labels }}{{ $last = . }}{{ end }}last={{ $last }}

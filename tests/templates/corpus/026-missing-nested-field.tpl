{{ .Labels.Nope }}

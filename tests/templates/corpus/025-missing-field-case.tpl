{{ .workerIP }}

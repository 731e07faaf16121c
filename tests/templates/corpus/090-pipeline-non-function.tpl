{{ .Job | .WorkerIP }}

{{ .AllocationID }} {{ .Job }} {{ .WorkerIP }} {{ .WorkerID }}

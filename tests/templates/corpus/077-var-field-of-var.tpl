{{ $d := . }}{{ $d.WorkerIP }} {{ $.Job }}

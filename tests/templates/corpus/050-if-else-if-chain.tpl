{{ $m := int (get "vars/bucket" "memory") }}{{ if lt $m 1024 }}small{{ else if lt $m 8192 }}medium{{ else }}large{{ end }}

JOB={{ .Job }}
ALLOC={{ .AllocationID }}
MEMORY_MB={{ div (int (get "vars/bucket" "memory")) 2 }}
{{ range $k := keys (printf "vars/job/%s" .Job) -}}
VAR_{{ upper $k }}={{ get (printf "vars/job/%s" $.Job) $k }}
{{ end -}}

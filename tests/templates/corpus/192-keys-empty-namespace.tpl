{{ keys (printf "vars/bucket/job/%s" .Job) }} {{ len (keys (printf "vars/bucket/job/%s" .Job)) }}

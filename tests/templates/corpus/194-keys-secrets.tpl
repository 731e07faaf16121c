{{ keys (printf "secrets/job/%s" .Job) }}

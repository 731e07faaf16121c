[{{ getOptional (printf "vars/bucket/job/%s" .Job) "nope" }}]

{{ join (keys (printf "vars/job/%s" .Job)) "," }} {{ len (keys (printf "vars/job/%s" .Job)) }}

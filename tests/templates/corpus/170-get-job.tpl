{{ get (printf "maand/job/%s" .Job) "version" }} {{ get (printf "maand/job/%s" .Job) "workers" }}

{{ get (printf "vars/job/%s" .Job) "name" }} {{ get (printf "vars/job/%s" .Job) "replicas" }}

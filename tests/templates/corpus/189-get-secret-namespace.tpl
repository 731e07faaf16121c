{{ get (printf "secrets/job/%s" .Job) "db_password" }}

password={{ getSecret "db_password" }}

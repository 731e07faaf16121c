[server]
host = {{ printf "%q" .WorkerIP }}
port = {{ add 8000 (len .Labels) }}
secret = {{ printf "%q" (getSecret "db_password") }}

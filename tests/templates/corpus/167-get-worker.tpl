{{ get (printf "maand/worker/%s" .WorkerIP) "worker_ip" }} {{ get (printf "maand/worker/%s" .WorkerIP) "labels" }}

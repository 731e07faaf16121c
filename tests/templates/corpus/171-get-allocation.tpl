{{ get (printf "maand/job/%s/worker/%s" .Job .WorkerIP) "peer_workers" }}

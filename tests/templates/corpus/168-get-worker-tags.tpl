{{ get (printf "maand/worker/%s/tags" .WorkerIP) "zone" }}

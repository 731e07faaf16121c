{{ get "maand/worker/10.0.0.2" "worker_ip" }}

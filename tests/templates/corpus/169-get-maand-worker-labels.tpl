{{ get "maand/worker" "app_workers" }} {{ get "maand/worker" "app_workers_length" }}

broker.id={{ printf "%03d" (int (get (printf "maand/job/%s/worker/%s" .Job .WorkerIP) (printf "%s_allocation_index" .Job))) }}

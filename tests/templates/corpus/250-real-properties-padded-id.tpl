node.id=node-{{ printf "%02d" (add (int (get (printf "maand/job/%s/worker/%s" .Job .WorkerIP) (printf "%s_allocation_index" .Job))) 1) }}
data.dir={{ .JobPath }}/data

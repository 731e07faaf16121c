{{ printf "%s %s"
  (get "vars/bucket" "cluster")
  (get "vars/bucket" "nope") }}

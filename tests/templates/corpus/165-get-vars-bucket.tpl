cluster={{ get "vars/bucket" "cluster" }}

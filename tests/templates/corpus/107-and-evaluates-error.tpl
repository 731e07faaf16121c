{{ and true (get "vars/bucket" "nope") }}

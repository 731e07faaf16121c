{{ and false (get "vars/bucket" "nope") }}

{{ or "first" (get "vars/bucket" "nope") }}

{{ int (get "vars/bucket" "notnum") }}

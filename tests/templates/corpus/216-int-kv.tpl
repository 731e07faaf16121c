{{ int (get "vars/bucket" "neg") }} {{ int (get "vars/bucket" "big") }}

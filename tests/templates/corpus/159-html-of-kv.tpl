{{ get "vars/bucket" "html" | html }}

{{ get "vars/bucket" "html" }}

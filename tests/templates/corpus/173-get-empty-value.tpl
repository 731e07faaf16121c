[{{ get "vars/bucket" "empty" }}]

{{ get "vars/bucket" }}

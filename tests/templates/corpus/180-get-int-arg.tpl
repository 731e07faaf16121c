{{ get "vars/bucket" 5 }}

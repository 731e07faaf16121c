{{ `a
b` }}
{{ get "vars/bucket" "nope" }}

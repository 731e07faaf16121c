one
two
three
four
{{ get "vars/bucket" "missing_on_five" }}

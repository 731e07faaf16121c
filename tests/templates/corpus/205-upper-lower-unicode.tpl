{{ upper (get "vars/bucket" "unicode") }}
{{ lower (get "vars/bucket" "unicode") }}

a{{/*
multi
line
*/}}b{{ get "vars/bucket" "nope" }}

{{ get "vars/job/other" "x" }}

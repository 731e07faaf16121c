{{ if gt (int (get "vars/bucket" "memory")) 1024 }}big{{ end }}

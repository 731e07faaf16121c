{{ sub (int (get "vars/bucket" "memory")) 96 }}

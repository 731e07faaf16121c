[{{ trim "\u00a0\t x y \n\u2003" }}] [{{ trim (get "vars/bucket" "padded") }}]

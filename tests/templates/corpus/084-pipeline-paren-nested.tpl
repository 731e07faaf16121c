{{ max (min 10 (add 3 4)) (sub 2 5) }}

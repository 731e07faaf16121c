{{ join (split "a-b-c" "-") "+" }}

{{ join "abc" "," }}

{{ lt "abc" "abd" }} {{ lt 2 10 }} {{ ge 3 3 }} {{ le "b" "a" }} {{ gt "B" "a" }}

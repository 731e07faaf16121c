{{ print "a" 1 2 "b" "c" 3.5 true }}

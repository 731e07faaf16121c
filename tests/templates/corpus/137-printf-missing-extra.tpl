{{ printf "%s %s" "a" }} {{ printf "%s" "a" "b" }}

{{ printf "%[2]s %[1]s %s" "a" "b" }}

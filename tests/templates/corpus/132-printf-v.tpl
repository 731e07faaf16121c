{{ printf "%v|%v|%v|%v" .Labels 42 true "s" }}

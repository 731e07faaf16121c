{{ printf "%s|%d|%d|%t" 42 "x" true 1 }}

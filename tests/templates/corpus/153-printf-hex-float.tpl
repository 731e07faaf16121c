{{ printf "%x" 1.5 }}

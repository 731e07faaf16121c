{{ printf "%c|%q|%c" 0x110000 -1 65 }}

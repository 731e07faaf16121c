{{ printf "%c%c%c" 72 105 0x263A }}

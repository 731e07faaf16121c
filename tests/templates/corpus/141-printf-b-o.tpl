{{ printf "%b %o %#o %O %#b" 5 8 8 8 5 }}

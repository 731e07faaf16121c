{{ printf "%v %.1f" 1e100 1e100 }}

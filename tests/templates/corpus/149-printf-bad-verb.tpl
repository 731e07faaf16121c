{{ printf "%z %!" 1 }}

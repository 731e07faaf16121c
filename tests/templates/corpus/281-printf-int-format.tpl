{{ printf 5 }}

{{ printf "%d-%s" (add 1 2) (upper "x") }}

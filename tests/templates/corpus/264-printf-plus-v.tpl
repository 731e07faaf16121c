{{ printf "%+v %+d" .Labels 3 }}

{{ printf "%v" . }}

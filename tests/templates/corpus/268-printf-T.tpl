{{ printf "%T %T %T %T %T %T" 1 1.5 "s" true .Labels . }}

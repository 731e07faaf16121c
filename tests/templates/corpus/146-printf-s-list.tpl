{{ printf "%s|%d|%q" .Labels .Labels (split "a,b" ",") }}

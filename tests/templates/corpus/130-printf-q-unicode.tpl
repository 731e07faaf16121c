{{ printf "%q" "ü\t☃" }} {{ printf "%+q" "ü" }} {{ printf "%#q" "back`tick" }} {{ printf "%#q" "plain" }}

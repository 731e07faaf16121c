{{ printf "100%%" }} {{ printf "%5.1f%%" 99.5 }}

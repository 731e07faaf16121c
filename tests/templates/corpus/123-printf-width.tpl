[{{ printf "%5s" "ab" }}][{{ printf "%-5s" "ab" }}][{{ printf "%5d" 42 }}][{{ printf "%-5d" 42 }}]

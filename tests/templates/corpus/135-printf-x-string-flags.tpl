{{ printf "% x|%#x|%X" "abc" "abc" "é" }}

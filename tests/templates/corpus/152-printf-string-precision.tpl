{{ printf "%.3s|%6.2s|%-6.2s|" "abcdef" "xyz" "xyz" }}

{{ printf "%05s|%-05s|%05q" "ab" "ab" "ab" }}

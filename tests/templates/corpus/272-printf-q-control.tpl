{{ printf "%q|%+q|%#q" "a\x00b\x7f\u200b" "tab\t" "tab\t" }}

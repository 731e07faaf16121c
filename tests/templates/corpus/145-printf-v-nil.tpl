{{ printf "%v|%s|%d" nil nil nil }}

{{ eq .Job "a" "b" .Job }} {{ eq 1 2 3 }}

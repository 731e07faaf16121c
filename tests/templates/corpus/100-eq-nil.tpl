{{ eq nil nil }} {{ eq nil 1 }} {{ eq .Job nil }}

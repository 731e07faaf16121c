{{ trim "a" "b" }}

{{ or "" 0 "x" }} {{ or "" 0 }} {{ or false }}

{{ div 7 2 }} {{ div -7 2 }} {{ div 7 -2 }} {{ div 0 5 }}

{{ slice "abcdef" 1 3 }} {{ slice "abcdef" 4 }}

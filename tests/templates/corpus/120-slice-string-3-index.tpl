{{ slice "abc" 0 1 2 }}

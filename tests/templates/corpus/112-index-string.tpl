{{ index "abc" 1 }}

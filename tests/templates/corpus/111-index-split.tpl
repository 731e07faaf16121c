{{ index (split "a:b:c" ":") 2 }}

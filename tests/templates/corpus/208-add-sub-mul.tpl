{{ add 2 3 }} {{ sub 2 3 }} {{ mul -4 5 }}

{{ add 1.0 2 }} {{ mul 2 1e2 }}

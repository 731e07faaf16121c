{{ add 1 }}

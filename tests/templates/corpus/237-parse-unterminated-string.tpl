{{ "abc }}

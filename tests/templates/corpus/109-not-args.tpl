{{ not }}

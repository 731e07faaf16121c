{{ index .Labels 9 }}

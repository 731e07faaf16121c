{{ index .Labels 1 }}

{{ index .Labels -1 }}

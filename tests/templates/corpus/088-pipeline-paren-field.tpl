{{ (index .Labels 0) }} {{ (.) | len }}

{{ slice .Labels 2 9 }}

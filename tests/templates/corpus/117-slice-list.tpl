{{ slice .Labels 1 }} {{ slice .Labels 0 1 }} {{ slice .Labels }}

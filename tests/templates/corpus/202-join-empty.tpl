[{{ join (slice .Labels 0 0) "," }}]

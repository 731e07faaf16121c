{{ join .Labels ", " }}

{{ printf "[%6v][%-6v]" 42 "ab" }}

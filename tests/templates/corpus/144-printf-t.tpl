{{ printf "%t %t [%6t][%-6t]" true (eq 1 2) true false }}

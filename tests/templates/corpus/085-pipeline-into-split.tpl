{{ "x,y" | split "," }}

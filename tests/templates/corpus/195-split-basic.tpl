{{ split "a,b,,c" "," }} {{ len (split "a,b,,c" ",") }}

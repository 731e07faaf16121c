[{{ index . "Nope" }}]

[{{ getOptional "vars/bucket" "nope" }}]

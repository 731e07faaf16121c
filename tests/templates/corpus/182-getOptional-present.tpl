[{{ getOptional "vars/bucket" "cluster" }}]

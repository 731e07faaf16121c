{{ keys "vars/bucket" }}

{{ or (getOptional "vars/bucket" "nope") "fallback" }}

{{ if $x := getOptional "vars/bucket" "cluster" }}{{ $x }}{{ end }}

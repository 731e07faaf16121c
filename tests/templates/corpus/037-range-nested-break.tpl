{{ range $a := split "1,2,3" "," }}{{ range $b := split "x,y,z" "," }}{{ if eq $b "y" }}{{ break }}{{ end }}{{ $a }}{{ $b }} {{ end }}|{{ end }}

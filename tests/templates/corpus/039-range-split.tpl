{{ range split "a,b,c" "," }}[{{ . }}]{{ end }}

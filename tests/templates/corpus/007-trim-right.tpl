{{ .Job -}}   

 y

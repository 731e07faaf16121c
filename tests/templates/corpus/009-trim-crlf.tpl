a 
{{- .Job -}} 
 b

a
b {{ .Job 

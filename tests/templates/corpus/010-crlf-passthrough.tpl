a
b {{ .Job }}

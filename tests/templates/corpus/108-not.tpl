{{ not "" }} {{ not .Job }} {{ not 0 }}

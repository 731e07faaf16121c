{{ call .Job }}

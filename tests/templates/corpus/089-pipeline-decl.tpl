{{ $up := .Job | upper }}{{ $up }}

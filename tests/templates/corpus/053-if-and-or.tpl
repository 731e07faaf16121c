{{ if and .Job (eq .NewVersion "1.2.0") }}ok{{ end }} {{ if or (eq 1 2) (eq 2 2) }}or{{ end }}

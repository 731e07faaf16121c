{{ .Job | eq "x" }} {{ "x" | eq "x" }}

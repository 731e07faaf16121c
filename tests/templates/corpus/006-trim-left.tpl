x   
	 {{- .Job }}

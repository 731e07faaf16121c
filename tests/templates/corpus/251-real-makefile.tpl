start:
	@echo starting {{ .Job }} {{ .NewVersion }}
stop:
	@echo stop

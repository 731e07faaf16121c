Grüße, 世界! emoji 😀 {{ .Job }}

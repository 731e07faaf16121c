{{ len .Labels }} {{ len "héllo" }} {{ len . }} {{ len "" }}

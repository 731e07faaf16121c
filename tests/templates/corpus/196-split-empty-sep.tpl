{{ split "héllo" "" }}

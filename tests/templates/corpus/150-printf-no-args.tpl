{{ printf "plain" }}{{ printf "" }}|

{{ printf "%q" "he said \"hi\"\n" }} {{ printf "%q" .Labels }}

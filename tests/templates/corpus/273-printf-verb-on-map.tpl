{{ printf "%d" (index . "UpdateSeq") }} {{ printf "%s" .Labels }} {{ printf "%x" .Labels }}

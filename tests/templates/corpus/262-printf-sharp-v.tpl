{{ printf "%#v %#v %#v %#v" .Labels 42 "s" true }}

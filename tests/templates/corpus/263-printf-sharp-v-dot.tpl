{{ printf "%#v" . }}

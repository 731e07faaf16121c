{{ printf "%q %q" 65 0x1F600 }}

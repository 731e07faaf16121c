{{ printf "%U %#U" 0x1F600 65 }}

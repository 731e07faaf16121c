{{ ne .Job "x" }} {{ ne 1 1 }}

{{ add .UpdateSeq 1 }} {{ printf "%04d" .UpdateSeq }} {{ gt .UpdateSeq 3 }} {{ eq .UpdateSeq 7 }}

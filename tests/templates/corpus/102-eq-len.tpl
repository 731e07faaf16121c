{{ eq (len .Labels) 3 }}

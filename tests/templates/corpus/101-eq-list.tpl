{{ eq .Labels .Labels }}

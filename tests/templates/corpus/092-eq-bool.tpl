{{ eq true true }} {{ eq false (not true) }}

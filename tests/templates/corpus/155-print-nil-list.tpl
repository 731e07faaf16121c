{{ print nil }} {{ print .Labels }} {{ print }}|

{{ println "a" 1 "b" }}{{ println }}end

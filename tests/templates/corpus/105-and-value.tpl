{{ and 1 "two" 3 }} {{ and 1 0 3 }} {{ and "" 1 }}

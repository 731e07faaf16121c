{{ get "maand/job/t001" "version" }}

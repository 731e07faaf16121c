{{ getOptional "vars/job/other" "x" }}

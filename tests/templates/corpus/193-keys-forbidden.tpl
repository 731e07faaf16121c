{{ keys "vars/job/other" }}

{{ "tab\there\nnl \u00e9 \x41 \\ \"" }}|{{ `raw\n {{ }}` }}

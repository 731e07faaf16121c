<a href="{{ get "vars/bucket" "html" }}">{{ "<script>alert('x')</script> & \"q\"" }}</a>

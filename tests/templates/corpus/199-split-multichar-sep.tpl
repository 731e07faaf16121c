{{ split "a::b::c" "::" }}

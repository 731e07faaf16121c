ok
{{ nope 1 }}

a
{{ template "nope" }}

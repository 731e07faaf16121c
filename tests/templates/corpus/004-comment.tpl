a{{/* a comment */}}b

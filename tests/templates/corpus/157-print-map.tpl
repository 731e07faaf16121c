{{ print . }}

{{ .BucketID }} {{ .UpdateSeq }} {{ .BucketPath }} {{ .JobPath }}

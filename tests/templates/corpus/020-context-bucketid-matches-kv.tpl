{{ eq .BucketID (get "maand/bucket" "bucket_id") }}

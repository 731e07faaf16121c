{{ get "maand/bucket" "bucket_id" }}

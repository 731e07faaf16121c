{{ index . "Job" }} {{ len (index . "Labels") }}

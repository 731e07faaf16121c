{{ lt nil 1 }}

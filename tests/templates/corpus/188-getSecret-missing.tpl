{{ getSecret "nope" }}

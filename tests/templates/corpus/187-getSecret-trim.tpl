[{{ getSecret "api_token" | trim }}]

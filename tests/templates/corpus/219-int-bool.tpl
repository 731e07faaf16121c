{{ int true }}

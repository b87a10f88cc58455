"""GraphQL output types, one module per aggregate; each maps a model with `from_model`."""

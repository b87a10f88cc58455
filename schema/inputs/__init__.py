"""GraphQL input types, one module per aggregate; each turns itself into a service's keyword arguments."""

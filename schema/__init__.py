"""The GraphQL adapter: a Strawberry schema over the omniman_gql core (see `schema.build`)."""

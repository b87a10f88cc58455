"""The GraphQL adapter: a Strawberry schema over the omniman_gql core (see `schema.build`)."""

from typing import Any


def __getattr__(name: str) -> Any:
    # `schema.schema` is built on first use, so importing a submodule (the ASGI factory, a test) stays cheap.
    if name == "schema":
        from .build import schema

        return schema
    raise AttributeError(f"module 'schema' has no attribute {name!r}")

"""Builds the Strawberry schema: Query, Mutation, an optional Subscription, custom scalars and extensions."""

import strawberry
from strawberry.schema.config import StrawberryConfig

from omniman_gql.settings import Settings, get_settings

from .extensions import schema_extensions
from .mutations import Mutation
from .queries import Query
from .scalars import SCALAR_MAP


def build_schema(settings: Settings | None = None, *, subscription: type | None = None) -> strawberry.Schema:
    """The schema for `settings` (document limits, introspection). Pass the live-stream `Subscription` type to
    serve subscriptions; the SDL of everything else does not depend on the arguments."""
    settings = settings or get_settings()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=subscription,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=schema_extensions(settings),
    )


schema = build_schema()

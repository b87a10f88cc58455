"""Builds the Strawberry schema: Query, Mutation, an optional Subscription, custom scalars and extensions."""

import logging
from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from omniman_gql.outages import outage_log
from omniman_gql.settings import Settings, get_settings

from .document_limits import CACHE_SIZE, limit_rules
from .extensions import hide_suggestions, is_unexpected, outage_of
from .fanout import SharingExecutor
from .http_errors import tag_request_errors
from .logging_extension import ObserveOperations
from .mutations import Mutation
from .queries import Query
from .scalars import SCALAR_MAP
from .subscriptions import Subscription

log = logging.getLogger("omniman.graphql")


class OmnimanSchema(strawberry.Schema):
    """Logs unexpected errors with their traceback (before they are masked), outages as one line (`outage_log`); a
    client's mistakes only at debug.
    `accelerated`: built with the accelerators (`Settings.accelerate`), so extension hooks go through ours."""

    accelerated = False

    def create_extensions_runner(self, execution_context: ExecutionContext,
                                 extensions: list[SchemaExtension]) -> SchemaExtensionsRunner:
        if not self.accelerated:
            return super().create_extensions_runner(execution_context, extensions)
        from .accel_strawberry.hooks import PreparedHooksRunner

        return PreparedHooksRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        tag_request_errors(errors)  # before the operation's report: the metrics count the codes the client sees
        if self.config.disable_field_suggestions:  # with introspection off, "Did you mean …" would leak the schema
            hide_suggestions(errors)
        for error in errors:
            outage = outage_of(error)
            if outage is not None:
                outage_log.failed(outage, "graphql")
            elif is_unexpected(error):
                StrawberryLogger.error(error, execution_context)
            else:
                log.debug("client error: %s", error.message)


def build_schema(settings: Settings | None = None, *, subscription: type | None = Subscription) -> OmnimanSchema:
    """The schema for `settings` (document limits, introspection), with the live-stream `Subscription` type unless
    told otherwise; the SDL does not depend on the settings."""
    settings = settings or get_settings()
    built = OmnimanSchema(
        query=Query,
        mutation=Mutation,
        subscription=subscription,
        config=StrawberryConfig(scalar_map=SCALAR_MAP, disable_field_suggestions=not settings.introspection),
        extensions=schema_extensions(settings),
        # one execution per event and distinct selection (schema.fanout); accelerated, simple mutations by plan
        execution_context_class=_executor_class(settings),
    )
    if settings.accelerate:
        from .accel_strawberry.planning import accelerate

        built.accelerated = True
        accelerate(built)
    return built


def schema_extensions(settings: Settings) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    """Each distinct document parsed and validated once within the document limits, then the report of each
    operation wrapped around the error mask. With `settings.accelerate`, one hook prepares the document
    (`accel_strawberry.documents`); otherwise Strawberry's stock extensions, with the same rules and cache size."""
    def observe() -> SchemaExtension:
        return ObserveOperations(settings=settings)

    if settings.accelerate:
        from .accel_strawberry.documents import Documents, PreparedDocuments

        documents = Documents(settings)
        return [lambda: PreparedDocuments(documents), observe]
    rules = list(limit_rules(settings))
    return [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),  # sets the option ParserCache parses with
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        lambda: AddValidationRules(rules),
        observe,
    ]


def _executor_class(settings: Settings) -> type[SharingExecutor]:
    if not settings.accelerate:
        return SharingExecutor
    from .accel_graphql_core import PlannedExecutor  # imported only when used: it leans on graphql-core's internals

    return PlannedExecutor


schema = build_schema()

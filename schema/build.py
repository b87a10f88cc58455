"""Builds the Strawberry schema: Query, Mutation, an optional Subscription, custom scalars and extensions."""

import logging

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from omniman_gql.settings import Settings, get_settings

from .planned import OperationPlans, PlannedExecutor
from .extensions import PreparedHooksRunner, hide_suggestions, is_unexpected, schema_extensions
from .fast_inputs import plan_input_conversion
from .mutations import Mutation
from .queries import Query
from .scalars import SCALAR_MAP
from .subscriptions import Subscription

log = logging.getLogger("omniman.graphql")


class OmnimanSchema(strawberry.Schema):
    """Logs unexpected errors with their traceback (before they are masked); a client's mistakes only at debug.
    `plans`: the planned executions of simple mutations (see schema.planned), made once per operation."""

    plans: OperationPlans

    def create_extensions_runner(self, execution_context: ExecutionContext,
                                 extensions: list[SchemaExtension]) -> PreparedHooksRunner:
        return PreparedHooksRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        if self.config.disable_field_suggestions:  # with introspection off, "Did you mean …" would leak the schema
            hide_suggestions(errors)
        for error in errors:
            if is_unexpected(error):
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
        # one execution per event and distinct selection (schema.fanout); simple mutations by plan (schema.planned)
        execution_context_class=PlannedExecutor,
    )
    built.plans = OperationPlans()
    plan_input_conversion(built)  # input objects built from a plan made once per type
    return built


schema = build_schema()

"""Unexpected errors: told from a client's mistakes, masked for the client (the traceback stays in the logs), database
and broker outages answered as UNAVAILABLE, and graphql-core's suggestions hidden when introspection is off."""

import logging
import re

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from omniman_gql.outages import Unavailable, classify

log = logging.getLogger("omniman.graphql")
INTERNAL = "INTERNAL_SERVER_ERROR"
UNAVAILABLE = "UNAVAILABLE"
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def is_unexpected(error: GraphQLError) -> bool:
    """Parse and validation errors carry no original error; deliberate ones (ClientError, permissions, input
    coercion) are GraphQLErrors themselves. Anything else escaped a resolver by accident."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def outage_of(error: GraphQLError) -> Unavailable | None:
    """The database or broker outage behind an error that escaped a resolver, if that is what it is."""
    return classify(error.original_error) if is_unexpected(error) else None  # type: ignore[arg-type]


def hide_suggestions(errors: list[GraphQLError]) -> None:
    """Drop graphql-core's "Did you mean …?" hints (fields, arguments, types, enum values, input fields)."""
    for error in errors:
        if "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)


class MaskInternalErrors(MaskErrors):
    """Unexpected errors become "Internal server error" with `extensions.code`; the traceback stays in the logs
    (the schema's `process_errors` logs each error before extensions see it). An outage of the database or the
    broker becomes UNAVAILABLE with a fixed message (a driver's text may name hosts): the client may retry."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        outage = outage_of(error)
        if outage is not None:
            return GraphQLError(message=outage.message, nodes=error.nodes, source=error.source,
                                positions=error.positions, path=error.path, original_error=None,
                                extensions={"code": UNAVAILABLE})
        return GraphQLError(message=self.error_message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path, original_error=None,
                            extensions={"code": INTERNAL})

"""Unexpected errors: told from a client's mistakes, masked for the client (the traceback stays in the logs), and
graphql-core's suggestions hidden when introspection is off."""

import logging
import re

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

log = logging.getLogger("omniman.graphql")
INTERNAL = "INTERNAL_SERVER_ERROR"
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def is_unexpected(error: GraphQLError) -> bool:
    """Parse and validation errors carry no original error; deliberate ones (ClientError, permissions, input
    coercion) are GraphQLErrors themselves. Anything else escaped a resolver by accident."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def hide_suggestions(errors: list[GraphQLError]) -> None:
    """Drop graphql-core's "Did you mean …?" hints (fields, arguments, types, enum values, input fields)."""
    for error in errors:
        if "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)


class MaskInternalErrors(MaskErrors):
    """Unexpected errors become "Internal server error" with `extensions.code`; the traceback stays in the logs
    (Strawberry logs each error to `strawberry.execution` before extensions see it)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(message=self.error_message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path, original_error=None,
                            extensions={"code": INTERNAL})

"""Schema extensions: masking of unexpected errors, document limits, and the parse/validation caches."""

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationRule
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from omniman_gql.settings import Settings

log = logging.getLogger("omniman.graphql")
INTERNAL = "INTERNAL_SERVER_ERROR"
CACHE_SIZE = 512
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def is_unexpected(error: GraphQLError) -> bool:
    """Parse and validation errors carry no original error; deliberate ones (ClientError, permissions, input
    coercion) are GraphQLErrors themselves. Anything else escaped a resolver by accident."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


NUL_MESSAGE = "Strings may not contain NUL (\\u0000) characters."


def contains_nul(value: Any) -> bool:
    """Whether a JSON value holds a string with a NUL character (PostgreSQL text cannot store one). Iterative:
    a document nested a thousand levels deep must not exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class NoNulCharacters(ValidationRule):
    """String literals of a document may not hold NUL characters (variables are checked by the view)."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError(NUL_MESSAGE, node))


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

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Subscriptions: a result without errors has nothing to mask; skipping the stock hook's Protocol
        # isinstance checks matters when one event is sent to a thousand subscribers.
        if any(getattr(result, name, None) for name in ("errors", "incremental", "completed")):
            yield from super().on_stream_result(result)
            return
        self._stream_result_processed = True
        yield None


def schema_extensions(settings: Settings) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    """Caches first (≈ 5× faster small operations), bounds on documents, and the mask last.

    The depth and alias rules are built ONCE: the validation cache is keyed by the rule classes, and the stock
    limiter extensions make new classes per instance, which would turn every request into a cache miss."""
    rules = [*QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
             *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules, NoNulCharacters]
    extensions: list[Any] = [
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: AddValidationRules(rules),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    from .logging_extension import ObserveOperations  # it uses is_unexpected from here

    extensions.append(lambda: ObserveOperations(settings=settings))  # before the mask: it reports what clients saw
    extensions.append(MaskInternalErrors)
    return extensions

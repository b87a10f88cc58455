"""Domain errors: one closed set of codes and one exception family that carries them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every error code of the specification; the value is the wire `code`."""

    # lookups
    NOT_FOUND = "not_found"
    SESSION_NOT_FOUND = "session_not_found"
    CHANNEL_NOT_FOUND = "channel_not_found"
    CHANNEL_INACTIVE = "channel_inactive"
    ORDER_NOT_FOUND = "order_not_found"
    # session state
    ALREADY_COMMITTED = "already_committed"
    ALREADY_ABANDONED = "already_abandoned"
    ABANDONED = "abandoned"
    LOCKED = "locked"
    STALE_REV = "stale_rev"
    # ops
    MISSING_SKU = "missing_sku"
    INVALID_QTY = "invalid_qty"
    MISSING_UNIT_PRICE_Q = "missing_unit_price_q"
    INVALID_PRICE = "invalid_price"
    AMOUNT_OUT_OF_RANGE = "amount_out_of_range"
    PRICE_OVERRIDE_NOT_ALLOWED = "price_override_not_allowed"
    UNKNOWN_LINE_ID = "unknown_line_id"
    INVALID_PATH = "invalid_path"
    INVALID_MERGE = "invalid_merge"
    SKU_MISMATCH = "sku_mismatch"
    UNSUPPORTED_OP = "unsupported_op"
    # issues
    ISSUE_NOT_FOUND = "issue_not_found"
    NO_RESOLVER = "no_resolver"
    ACTION_NOT_FOUND = "action_not_found"
    STALE_ACTION = "stale_action"
    NO_OPS = "no_ops"
    # commit
    IN_PROGRESS = "in_progress"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    MISSING_CHECK = "missing_check"
    STALE_CHECK = "stale_check"
    HOLD_EXPIRED = "hold_expired"
    BLOCKING_ISSUES = "blocking_issues"
    EMPTY_SESSION = "empty_session"
    # orders
    TERMINAL_STATUS = "terminal_status"
    INVALID_TRANSITION = "invalid_transition"
    INVALID_EVENT_TYPE = "invalid_event_type"
    OVER_FULFILLMENT = "over_fulfillment"
    ORDER_NOT_FULFILLABLE = "order_not_fulfillable"
    # payment
    OVER_REFUND = "over_refund"
    PAYMENT_ALREADY_CAPTURED = "payment_already_captured"
    # configuration and input
    INVALID_CONFIG = "invalid_config"
    INVALID_INPUT = "invalid_input"
    VALIDATION_FAILED = "validation_failed"
    # customers
    CUSTOMER_NOT_FOUND = "customer_not_found"
    CUSTOMER_INACTIVE = "customer_inactive"
    # tokens
    TOKEN_NAME_TAKEN = "token_name_taken"
    # directives
    DIRECTIVE_NOT_RUNNABLE = "directive_not_runnable"


class RequestErrorCode(StrEnum):
    """Top-level `extensions.code`s of a request refused before or while its document is read (GraphQL over HTTP,
    persisted queries); the operation never ran."""

    BAD_REQUEST = "BAD_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    CORS_NOT_ALLOWED = "CORS_NOT_ALLOWED"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
    DOCUMENT_NOT_TRUSTED = "DOCUMENT_NOT_TRUSTED"


class OmnimanError(Exception):
    """An expected failure of a use case: a stable `code`, a human `message`, the input `field` path and `context`."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: Sequence[str | int] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field: tuple[str | int, ...] | None = tuple(field) if field is not None else None
        self.context: dict[str, Any] = dict(context or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r}, field={self.field!r})"

    def errors(self) -> list[OmnimanError]:
        """The individual errors this exception stands for (one, unless it is a ValidationFailed)."""
        return [self]


class ValidationFailed(OmnimanError):
    """Several independent input errors reported together."""

    def __init__(self, errors: Sequence[OmnimanError]) -> None:
        if not errors:
            raise ValueError("ValidationFailed needs at least one error")
        first = errors[0]
        super().__init__(first.code, first.message, field=first.field, context=first.context)
        self._errors = list(errors)

    def errors(self) -> list[OmnimanError]:
        return list(self._errors)


def prefixed(exc: OmnimanError, *prefix: str | int) -> OmnimanError:
    """Return `exc` with `prefix` put in front of its field path (used to place op errors under `ops.<i>`)."""
    exc.field = (*prefix, *(exc.field or ()))
    return exc

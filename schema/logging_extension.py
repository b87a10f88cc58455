"""Reports every GraphQL operation to `omniman_gql.infra.observability`: metrics, the request's JSON log line, and the
open-subscriptions gauge (a subscription's operation spans its whole life); unexpected errors are masked first."""

import functools
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLError, get_operation_ast

from omniman_gql.infra import observability
from omniman_gql.live.feed import Parked
from omniman_gql.settings import Settings

from .accel_strawberry.websockets import resumed_subscription
from .errors import ClientError
from .extensions import MaskInternalErrors, is_unexpected
from .http_errors import tag_request_errors
from .text_input import SURROGATE_MESSAGE, contains_lone_surrogate

INVALID = "invalid"


class ObserveOperations(MaskInternalErrors):
    """The error mask and the report in one extension (one `on_operation` hook per request instead of two): the
    mask runs first, so unexpected errors are counted as INTERNAL_SERVER_ERROR, as the client saw them."""

    def __init__(self, *, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.subscription: str | None = None
        self.operation: tuple[str, str] | None = None  # (type, root field), once the document has validated
        self.failed: GraphQLError | None = None  # the parse error of a document that did not parse

    def on_execute(self) -> Iterator[None]:
        # Reached only by documents that parsed and validated, so the root field is one of the schema's.
        self.operation = operation_of(self.execution_context.graphql_document, self.execution_context.operation_name)
        # Before the variables are coerced and any resolver runs, on every transport (HTTP POST and GET, websocket):
        # a string no database can store is the client's mistake, not an internal error at the first INSERT.
        # (Literals cannot hold one: graphql-core's lexer refuses them.)
        if contains_lone_surrogate(self.execution_context.variables):
            raise ClientError(SURROGATE_MESSAGE)
        if self.operation[0] == "subscription":
            self.subscription = self.operation[1]
            if resumed_subscription.get() is None:  # a parked subscription resumed is still the one counted
                observability.subscription_started(self.subscription)
        yield

    def on_operation(self) -> Iterator[None]:
        resumed = resumed_subscription.get()
        started = resumed[1] if resumed is not None else time.perf_counter()
        parked = False
        try:
            yield from super().on_operation()  # the mask
        except GraphQLError as exc:  # a document that did not parse: Strawberry answers it after the operation
            tag_request_errors([exc])
            self.failed = exc
            raise
        except Parked as exc:
            # The subscription goes on without this pipeline (see ws_auth): it is ended and reported when it ends,
            # with what the report would say now (nothing else passes through this execution context).
            parked = True
            exc.started = started
            exc.finish = functools.partial(_finish, self.settings, self.subscription, started, self._fields())
            raise
        finally:
            if not parked:
                if self.subscription is not None:
                    observability.subscription_ended(self.subscription)
                observability.operation_finished(self.settings, observability.OperationReport(
                    **self._fields(), duration_s=time.perf_counter() - started))

    def _fields(self) -> dict[str, Any]:
        """The operation's report, but for its duration."""
        ec = self.execution_context
        operation_type, root = self.operation or (_type_only(ec.graphql_document, ec.operation_name), INVALID)
        # a document that did not parse has no result when the operation ends: its error went through it instead
        outcome, codes = classify(ec.result if ec.result is not None or self.failed is None
                                  else SimpleNamespace(errors=[self.failed]))
        context = ec.context
        request = getattr(context, "request", None)
        return {
            "operation": root,
            "operation_type": operation_type,
            "operation_name": ec.operation_name,
            "actor": getattr(getattr(context, "principal", None), "name", None),
            "outcome": outcome,
            "error_codes": codes,
            "transport": "ws" if request is not None and getattr(request, "scope", {}).get("type") == "websocket"
            else "http",
        }


def _finish(settings: Settings, subscription: str | None, started: float, fields: dict[str, Any]) -> None:
    """A parked subscription's end, as `on_operation` reports it."""
    if subscription is not None:
        observability.subscription_ended(subscription)
    observability.operation_finished(settings, observability.OperationReport(
        **fields, duration_s=time.perf_counter() - started))


def operation_of(document: DocumentNode | None, name: str | None) -> tuple[str, str]:
    """(query | mutation | subscription, first root field) of the operation that runs."""
    operation = get_operation_ast(document, name) if document is not None else None
    if operation is None:
        return "unknown", INVALID
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode) and selection.name.value != "__typename":
            return operation.operation.value, selection.name.value
    return operation.operation.value, "__typename"


def _type_only(document: DocumentNode | None, name: str | None) -> str:
    # A document that did not validate: its type is fine to report, its field names are not (unbounded labels).
    return operation_of(document, name)[0]


def _code(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    if isinstance(code, str) and code:
        return code[:64]
    if is_unexpected(error):
        return "INTERNAL_SERVER_ERROR"
    return "GRAPHQL_ERROR" if error.original_error is not None else "GRAPHQL_VALIDATION_FAILED"


def classify(result: Any) -> tuple[str, tuple[str, ...]]:
    """(outcome, error codes): `error` with top-level errors, `rejected` when a payload's `errors` is not empty."""
    if result is None:
        return "error", ("INTERNAL_SERVER_ERROR",)
    errors = list(getattr(result, "errors", None) or ())
    if errors:
        return "error", tuple(sorted({_code(e) for e in errors}))
    codes: set[str] = set()
    for value in (getattr(result, "data", None) or {}).values():
        if isinstance(value, dict):
            for error in value.get("errors") or ():
                if isinstance(error, dict) and isinstance(error.get("code"), str):
                    codes.add(error["code"][:64])
    return ("rejected" if codes else "ok"), tuple(sorted(codes))

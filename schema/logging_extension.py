"""Reports every GraphQL operation to `omniman_gql.observability`: metrics, the request's JSON log line, and the
open-subscriptions gauge (a subscription's operation spans its whole life)."""

import time
from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, get_operation_ast
from strawberry.extensions import SchemaExtension

from omniman_gql import observability
from omniman_gql.settings import Settings

from .extensions import is_unexpected

INVALID = "invalid"


class ObserveOperations(SchemaExtension):
    """Place it before the error mask: extensions finish in reverse order, so the mask has run when this one reports
    (unexpected errors are then counted as INTERNAL_SERVER_ERROR, as the client saw them)."""

    def __init__(self, *, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.subscription: str | None = None

    def on_execute(self) -> Iterator[None]:
        # Reached only by documents that parsed and validated, so the root field is one of the schema's.
        if self._type() == "subscription":
            self.subscription = self._root_field() or INVALID
            observability.subscription_started(self.subscription)
        yield

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            if self.subscription is not None:
                observability.subscription_ended(self.subscription)
            self._report(time.perf_counter() - started)

    def _report(self, duration_s: float) -> None:
        ec = self.execution_context
        valid = not ec.pre_execution_errors and ec.graphql_document is not None
        outcome, codes = classify(ec.result)
        context = ec.context
        request = getattr(context, "request", None)
        principal = getattr(context, "principal", None)
        observability.operation_finished(self.settings, observability.OperationReport(
            operation=(self._root_field() if valid else None) or INVALID,
            operation_type=self._type(),
            operation_name=ec.operation_name,
            actor=getattr(principal, "name", None),
            outcome=outcome,
            error_codes=codes,
            duration_s=duration_s,
            transport="ws" if request is not None and getattr(request, "scope", {}).get("type") == "websocket"
            else "http",
        ))

    def _operation(self) -> OperationDefinitionNode | None:
        document = self.execution_context.graphql_document
        if document is None:
            return None
        return get_operation_ast(document, self.execution_context.operation_name)

    def _type(self) -> str:
        operation = self._operation()
        if operation is None:
            return "unknown"
        return str(operation.operation.value)  # query | mutation | subscription

    def _root_field(self) -> str | None:
        operation = self._operation()
        if operation is None:
            return None
        for selection in operation.selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value != "__typename":
                return selection.name.value
        return "__typename"


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

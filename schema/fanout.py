"""Subscription fan-out: an event's selection runs once per distinct selection, its `next` JSON is encoded once.

A kitchen with 1,000 displays has 1,000 `orderEvents` subscriptions that mostly send the same document with the
same variables. Run naively, graphql-core executes the selection for every subscriber. Here each event carries a
`shared_results` dict (the root value of the per-event execution, see `SharesResults`), and `SharingExecutor` keys
it by what decides the result:

- the operation (its document's text and the operation's name),
- the coerced variable values (filters),
- what the caller may see (role and channel scope: principal-visibility),
- the subscriber's own cursor (part of the message; subscribers that joined at other moments may differ).

The first subscriber with a key starts the execution (a task of its own, shielded, so one subscriber leaving cannot
cancel it for the others); every other one awaits the same `ExecutionResult`. `MessageEncoder` then serialises each
shared `next` payload once and reuses the string for every socket. Only public extension points: Strawberry's
`execution_context_class` and graphql-core's `Executor.build`, `build_per_event_executor` and `execute_operation`.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any, Protocol

from graphql import ExecutionResult, GraphQLError, OperationType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from .document_cost import check_cost

ENCODED_MAX = 256  # recent `next` payloads kept encoded (a few events × a few distinct selections)

# Set in a subscription operation's task when its executor is built, before its resolver runs: the resolver finds
# the executor here (to execute events for direct delivery).
current_executor: ContextVar[SharingExecutor | None] = ContextVar("omniman_executor", default=None)


class SharesResults(Protocol):
    """A subscription event (root value) whose executions may be shared: one dict per event, for every subscriber."""

    cursor: str
    shared_results: dict[Any, Any] | None


def visibility_key(principal: Any) -> tuple[str, tuple[str, ...] | None] | None:
    """What a result may depend on about the caller: its role and channel scope (not its name)."""
    if principal is None:
        return None
    channels = getattr(principal, "channels", None)
    return str(getattr(principal, "role", "")), (None if channels is None else tuple(sorted(channels)))


def _document_key(operation: Any) -> tuple[str, str | None]:
    """The operation's source text and name: equal texts select the same (one text may hold several operations)."""
    source = operation.loc.source.body if operation.loc is not None else repr(id(operation))
    return source, operation.name.value if operation.name else None


def _variables_key(values: Any) -> str:
    coerced = getattr(values, "coerced", values)  # graphql-core 3.3 wraps them in VariableValues
    return json.dumps(coerced, sort_keys=True, default=str, separators=(",", ":"))


class SharingExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor; a subscription event whose root value `SharesResults` is executed once per key. It
    also refuses, before anything runs, an operation whose page sizes come from variables and are too large
    (`document_cost`: validation could not see their values)."""

    _share_prefix: tuple[Any, ...] | None = None

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        executor = super().build(*args, **kwargs)
        if isinstance(executor, SharingExecutor):
            refused = executor.cost_refusal()
            if refused is not None:
                return [refused]  # graphql-core answers a list from `build` as errors, nothing executed
            if executor.operation.operation is OperationType.SUBSCRIPTION:
                current_executor.set(executor)
        return executor

    def cost_refusal(self) -> GraphQLError | None:
        """The error refusing this operation when its cost with the variables sent is over the limit."""
        settings = getattr(self.context_value, "settings", None)
        if settings is None:  # not run by the hub's view (a test's bare context): the validation rule alone
            return None
        values: Any = self.variable_values  # graphql-core 3.3 wraps the coerced values in VariableValues
        return check_cost(self.schema, self.operation, self.fragment_definitions, getattr(values, "coerced", values),
                          settings.max_query_cost)

    def build_per_event_executor(self, payload: Any) -> Any:
        if self._share_prefix is None:  # once per subscription: every event's executor is a copy of this one
            visibility = visibility_key(getattr(self.context_value, "principal", None))
            self._share_prefix = (_document_key(self.operation), _variables_key(self.variable_values), visibility)
        return super().build_per_event_executor(payload)

    def shared_result(self, shared: dict[Any, Any] | None, cursor: str) -> ExecutionResult | None:
        """This subscription's result at `cursor` if another subscriber with its key has executed it, else None."""
        prefix = self._share_prefix
        if prefix is None or shared is None:
            return None
        entry = shared.get((*prefix, cursor))
        if entry is None or isinstance(entry[0], asyncio.Future):
            return None
        return entry[0]  # type: ignore[no-any-return]

    def event_result(self, event: SharesResults) -> ExecutionResult | Awaitable[ExecutionResult]:
        """This subscription's result for `event` (root value), from the event's shared results when it has one."""
        shared = self.shared_result(event.shared_results, event.cursor)
        if shared is not None:
            return shared
        return self.build_per_event_executor(event).execute_operation(False)  # type: ignore[no-any-return]

    def execute_operation(self, serially: bool | None = None) -> Any:
        event = self.root_value
        shared = getattr(event, "shared_results", None)
        prefix = self._share_prefix
        if shared is None or prefix is None or prefix[2] is None:
            return super().execute_operation(serially)
        key = (*prefix, event.cursor)
        entry = shared.get(key)
        if entry is None:
            entry = shared[key] = [asyncio.ensure_future(self._execute_once(serially))]
            entry[0].add_done_callback(lambda done, entry=entry: _keep_result(entry, done))
        value = entry[0]
        if not isinstance(value, asyncio.Future):
            return value  # already executed: the same ExecutionResult, handed over without awaiting
        return asyncio.shield(value)  # a subscriber leaving must not cancel the execution the others wait for

    async def _execute_once(self, serially: bool | None) -> ExecutionResult:
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]


def _keep_result(entry: list[Any], done: asyncio.Future[ExecutionResult]) -> None:
    if not done.cancelled() and done.exception() is None:
        entry[0] = done.result()



class MessageEncoder:
    """`json.dumps` for websocket messages, encoding the payload of a `next` message once for every subscriber it
    is shared with (recognised by the identity of its `data`, which a shared ExecutionResult hands to all)."""

    def __init__(self, size: int = ENCODED_MAX) -> None:
        self.size = size
        self._encoded: OrderedDict[int, list[Any]] = OrderedDict()  # [data, payload JSON, next_tail]

    def encode(self, message: object) -> str:
        if not (isinstance(message, dict) and message.get("type") == "next"):
            return json.dumps(message, separators=(",", ":"))
        payload = message.get("payload")
        if not isinstance(payload, dict) or set(payload) != {"data"} or not isinstance(payload["data"], dict):
            return json.dumps(message, separators=(",", ":"))  # errors or extensions: built per subscriber
        return self.next_frame(message.get("id"), payload["data"])

    def next_frame(self, operation_id: Any, data: dict[str, Any]) -> str:
        """The `next` message of `data` (a result without errors or extensions) for operation `operation_id`."""
        return f'{{"id":{json.dumps(operation_id)},"type":"next","payload":{self._entry(data)[1]}}}'

    def next_tail(self, data: dict[str, Any]) -> bytes:
        """The `next` message of `data` from right after its id, as UTF-8: the same bytes for every subscriber
        (`accel_uvicorn.RawFrames` puts each one's id in front)."""
        entry = self._entry(data)
        if entry[2] is None:
            entry[2] = f',"type":"next","payload":{entry[1]}}}'.encode()
        return entry[2]  # type: ignore[no-any-return]

    def _entry(self, data: dict[str, Any]) -> list[Any]:
        entry = self._encoded.get(id(data))
        if entry is None or entry[0] is not data:
            entry = [data, json.dumps({"data": data}, separators=(",", ":")), None]
            self._encoded[id(data)] = entry
            if len(self._encoded) > self.size:
                self._encoded.popitem(last=False)
        return entry

"""Subscription fan-out: an event's selection runs once per distinct selection, and its `next` JSON is encoded once.

A kitchen with 1,000 displays has 1,000 `orderEvents` subscriptions that mostly send the same document with the
same variables. Run naively, graphql-core executes the selection for every subscriber (≈ 1 ms each for a display's
selection: 1 s of CPU per order). Here each event carries a `shared_results` dict (the root value of the per-event
execution, see `SharesResults`), and `SharingExecutor` keys it by what decides the result:

- the operation (its document's text and the operation's name),
- the coerced variable values (filters),
- what the caller may see (role and channel scope: principal-visibility),
- the subscriber's own cursor (part of the message; subscribers that joined at other moments may differ).

The first subscriber with a key starts the execution (a task of its own, shielded, so one subscriber leaving cannot
cancel it for the others); every other one awaits the same `ExecutionResult`. `MessageEncoder` then serialises each
shared `next` payload once and reuses the string for every socket.

Direct delivery goes one step further for `orderEvents` over graphql-transport-ws: the feed group's task writes each
subscriber's `next` frame to its socket itself (`subscriptions.DirectDelivery`), so a subscriber's own task and
Strawberry's per-result stream only run for what cannot be sent that way (results with errors, a full socket). The
context variables below tell the subscription resolver which executor and which websocket operation it runs for.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Coroutine, Generator
from contextvars import ContextVar
from typing import Any, Protocol

from graphql import ExecutionResult
from starlette.websockets import WebSocketState
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

CHECKPOINTS = 4  # bare yields `start_now` steps over before it leaves a send to the subscriber's task
ENCODED_MAX = 256  # recent `next` payloads kept encoded (a few events × a few distinct selections)

# Set in a subscription operation's task: its executor (by `SharingExecutor`, before the resolver's generator runs)
# and its websocket handler and operation (by the graphql-transport-ws handler).
current_executor: ContextVar[SharingExecutor | None] = ContextVar("omniman_executor", default=None)
current_operation: ContextVar[tuple[Any, Any] | None] = ContextVar("omniman_ws_operation", default=None)
# Set in the task that resumes a parked subscription (see `omniman_gql.live.shared_feeds`): (its feed member, when the
# subscription started, as `time.perf_counter()` counts).
resumed_subscription: ContextVar[tuple[Any, float] | None] = ContextVar("omniman_resumed", default=None)


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
    """Strawberry's executor; a subscription event whose root value `SharesResults` is executed once per key."""

    _share_prefix: tuple[Any, ...] | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        if self._share_prefix is None:  # once per subscription: every event's executor is a copy of this one
            visibility = visibility_key(getattr(self.context_value, "principal", None))
            self._share_prefix = (_document_key(self.operation), _variables_key(self.variable_values), visibility)
        return super().build_per_event_executor(payload)

    def cancellable_iterable(self, iterable: Any) -> Any:
        # Called once per subscription, before its source stream's first step: the resolver finds its executor here.
        current_executor.set(self)
        return super().cancellable_iterable(iterable)

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
        prefix = self._share_prefix
        shared = event.shared_results
        if prefix is not None and shared is not None:
            entry = shared.get((*prefix, event.cursor))
            if entry is not None and not isinstance(entry[0], asyncio.Future):
                return entry[0]  # type: ignore[no-any-return]
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


def start_now(coro: Coroutine[Any, Any, Any]) -> bool | Awaitable[Any]:
    """Run `coro` (a websocket send) up to its first wait: True when it finished without one (its bytes went to the
    transport), else an awaitable that finishes it (the transport is paused: the reader is slow)."""
    for _ in range(CHECKPOINTS):
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return True
        if waiting_on is not None:
            return _Finish(coro, waiting_on)
        # A bare yield waits for nothing (a cooperative checkpoint, as anyio's streams make): go on at once.
    return _Finish(coro, None)


class _Finish:
    """Awaiting it resumes a coroutine that `start_now` ran by hand until it waited on `waiting_on`, as `await` would
    have: values and exceptions (cancellation included) go through to it."""

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        step = self.waiting_on
        while True:
            try:
                value, error = (yield step), None
            except BaseException as exc:  # noqa: BLE001 - handed to the coroutine, as `await` would
                value, error = None, exc
            try:
                step = self.coro.throw(error) if error is not None else self.coro.send(value)
            except StopIteration as stop:
                return stop.value


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
        (`RawFrames` puts each one's id in front)."""
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


TRANSPORT_SEND = "omniman.transport_send"  # scope key: the server's own websocket `send` (see KeepTransportSend)


class KeepTransportSend:
    """ASGI middleware: keeps the server's own `send` of a websocket in its scope, before Starlette wraps it, so a
    feed group can write a ready frame to the socket's transport (`RawFrames`). Other scopes pass untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope[TRANSPORT_SEND] = send
        await self.app(scope, receive, send)


try:  # uvicorn's default websocket protocol (websockets' sans-I/O core): the one whose state `RawFrames` reads
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.protocol import State as _WsState
except ImportError:  # pragma: no cover - another server: frames always go through ASGI
    WebSocketsSansIOProtocol = None


def uvicorn_protocol(websocket: Any) -> Any:
    """The uvicorn websockets-sansio protocol serving a Starlette websocket, or None (another server or protocol)."""
    scope = getattr(websocket, "scope", None)
    protocol = getattr((scope or {}).get(TRANSPORT_SEND), "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    return protocol


def _frame_header(length: int) -> bytes:
    """RFC 6455 header of one unmasked, final text frame of `length` payload bytes (a server never masks)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return bytes((0x81, 126)) + length.to_bytes(2, "big")
    return bytes((0x81, 127)) + length.to_bytes(8, "big")


class RawFrames:
    """Writes a `next` frame straight to one socket's transport, skipping Starlette's and uvicorn's per-message
    ASGI path (Starlette's state checks, uvicorn's send, websockets' framing of each message): the frame is
    the same bytes that path would write (no extension can be in use: checked first). Only while that path would
    write at once: the socket open on both sides, nothing closing, the transport not paused for a slow reader;
    otherwise `write` answers False and the caller takes the ASGI path, which waits or fails as it always did."""

    __slots__ = ("websocket", "protocol", "head")

    def __init__(self, websocket: Any, protocol: Any, operation_id: str) -> None:
        self.websocket = websocket  # Starlette's WebSocket: its state must say CONNECTED too
        self.protocol = protocol
        self.head = b'{"id":' + json.dumps(operation_id).encode()

    @classmethod
    def of(cls, websocket: Any, operation_id: str) -> RawFrames | None:
        """For a Starlette websocket served by uvicorn's websockets-sansio protocol without extensions, else None."""
        protocol = uvicorn_protocol(websocket)
        if protocol is None:
            return None
        if getattr(protocol.conn, "extensions", None):
            return None  # permessage-deflate: frames are compressed per message
        return cls(websocket, protocol, operation_id)

    def write(self, tail: bytes) -> bool:
        """Write the frame `head + tail` (see `MessageEncoder.next_tail`) if the ASGI path would write it at once."""
        protocol = self.protocol
        if (self.websocket.application_state is not WebSocketState.CONNECTED or protocol.disconnected
                or protocol.close_sent or not protocol.writable.is_set() or protocol.conn.state is not _WsState.OPEN
                or protocol.transport.is_closing()):
            return False
        body = self.head + tail
        protocol.transport.write(_frame_header(len(body)) + body)
        return True



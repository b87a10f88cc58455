"""Websocket auth: the token of `connection_init` (4401 when missing or bad), and closing the sockets of a token
the moment it is revoked."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext, suppress
from typing import Any

import anyio
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage as LegacyInitMessage

from omniman_gql.live.pubsub import PubSub, Subscription
from omniman_gql.runtime import Hub
from omniman_gql.services import auth
from omniman_gql.live.shared_feeds import Member, Parked, release

from .context import Context
from .extensions import NUL_MESSAGE, contains_nul
from .fanout import current_operation, resumed_subscription
from .subscriptions import LegacyGraphQLWSHandler

log = logging.getLogger("omniman.auth")
TOKENS_TOPIC = "tokens"  # `revoke_token` publishes {"revoked": id} here after commit
UNAUTHORIZED = 4401
Closer = Callable[[], Awaitable[None]]


class TokenRejected(Exception):
    """`connection_init` carried no valid token: the socket is closed with 4401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def connection_token(params: Mapping[str, Any] | None) -> str | None:
    """The `Authorization` value of a `connection_init` payload (the key in any case)."""
    for key, value in (params or {}).items():
        if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
            return value
    return None


class TokenWatch:
    """Per app: closes every open websocket of a token once it is revoked.

    At once when the revocation is published on the `tokens` topic (any process, through Redis), and at the latest
    `recheck_s` later (a lost message, or a revocation by a process without the pub/sub, such as `omniman token
    revoke` on the embedded default): one query for every watched token, however many sockets are open. The
    watcher runs only while sockets are open; it is asked to stop, never cancelled, since cancelling it in the
    middle of a (un)subscribe would upset the shared pub/sub connection.
    """

    def __init__(self, recheck_s: float) -> None:
        self.recheck_s = recheck_s
        self.closers: dict[int, set[Closer]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    def watch(self, token_id: int, closer: Closer, hub: Hub, pubsub: PubSub | None) -> Callable[[], None]:
        """Call `closer` when `token_id` is revoked; returns the function that stops watching."""
        self.closers.setdefault(token_id, set()).add(closer)
        if self._task is None or self._task.done():
            self._start(hub, pubsub)

        def unwatch() -> None:
            closers = self.closers.get(token_id)
            if closers is not None:
                closers.discard(closer)
                if not closers:
                    del self.closers[token_id]
            if not self.closers and self._wake is not None:
                self._wake.set()  # nothing left to watch: the watcher ends by itself

        return unwatch

    async def _run(self, hub: Hub, pubsub: PubSub | None) -> None:
        subscribe: AbstractAsyncContextManager[Subscription | None] = (
            pubsub.subscribe([TOKENS_TOPIC], maxsize=64, overflow="drop") if pubsub is not None else nullcontext())
        closed = False
        try:
            async with subscribe as sub:
                checked = time.monotonic()
                while self.closers and not closed:
                    await self._signal(sub, max(0.0, checked + self.recheck_s - time.monotonic()))
                    revoked, lagged = _revoked_ids(sub)
                    closed = sub is not None and sub.closed_reason is not None  # the pub/sub is shutting down
                    if lagged or time.monotonic() >= checked + self.recheck_s:
                        revoked |= await auth.revoked_among(hub, list(self.closers))
                        checked = time.monotonic()
                    await self._close(revoked)
        except Exception:  # a broken watcher must not take the sockets down; the next socket starts another
            log.exception("watching for revoked tokens failed")
            closed = True
        if self.closers and not closed:  # a socket arrived while this watcher was ending
            self._start(hub, pubsub)

    def _start(self, hub: Hub, pubsub: PubSub | None) -> None:
        self._wake = asyncio.Event()  # made on the running loop (an app may be served by several loops in turn)
        self._task = asyncio.get_running_loop().create_task(self._run(hub, pubsub))

    async def _signal(self, sub: Subscription | None, timeout: float) -> None:
        """Until a message arrives, the last socket leaves, or `timeout` seconds pass."""
        assert self._wake is not None
        self._wake.clear()
        if not self.closers:
            return
        waits = [asyncio.ensure_future(self._wake.wait())]
        if sub is not None:
            waits.append(asyncio.ensure_future(sub.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _close(self, revoked: set[int]) -> None:
        for token_id in revoked & self.closers.keys():
            for closer in list(self.closers.get(token_id, ())):
                with suppress(Exception):  # the socket may be gone already
                    await closer()


def _revoked_ids(sub: Subscription | None) -> tuple[set[int], bool]:
    """The token ids announced as revoked, and whether some announcements were dropped (then ask the database)."""
    if sub is None:
        return set(), False
    ids = {value for message in sub.drain() if isinstance(value := message.data.get("revoked"), int)}
    lagged, sub.lagged = sub.lagged, False
    return ids, lagged


class _Guard:
    """What both protocol handlers share: run `connection_init` through the view's token check, close with 4401
    when it fails, and close the socket when its token is revoked."""

    context: Context
    websocket: Any
    view: Any
    _unwatch: Callable[[], None] | None = None

    async def _closed_unless_authenticated(self, init: Callable[[], Awaitable[None]]) -> None:
        try:
            await init()
        except TokenRejected as exc:
            await self.websocket.close(code=UNAUTHORIZED, reason=exc.reason)
            return
        principal = self.context.principal
        if principal is not None and principal.token_id is not None and self._unwatch is None:
            request = self.context.request
            live = getattr(request.state, "live", None) if request is not None else None
            self._unwatch = self.view.token_watch.watch(
                principal.token_id, self._revoked, self.context.hub, live.pubsub if live is not None else None)

    async def _revoked(self) -> None:
        await self.websocket.close(code=UNAUTHORIZED, reason="The API token was revoked.")

    def _stop_watching(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None


_TEXTS: OrderedDict[str, str] = OrderedDict()
TEXTS_MAX = 256


def shared_text(query: str) -> str:
    """One string object for every subscription sending this document text: Strawberry keeps the text of each
    operation for its whole life (≈ 1.2 KiB for a kitchen display's selection), and displays send the same text.
    The most recent `TEXTS_MAX` distinct texts are remembered."""
    known = _TEXTS.get(query)
    if known is None:
        known = _TEXTS[query] = query
        if len(_TEXTS) > TEXTS_MAX:
            _TEXTS.popitem(last=False)
    return known


def malformed(message: Any, *, with_id: tuple[str, ...], with_query: str) -> str | None:
    """Why a websocket message cannot be handled (None when it can): the protocols index into messages freely,
    so a hostile shape would otherwise raise inside the connection's task."""
    if not isinstance(message, dict):
        return "A message must be a JSON object."
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message needs a string `type`."
    if kind in with_id and not isinstance(message.get("id"), str):
        return f"A `{kind}` message needs a string `id`."
    if kind == with_query:
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return f"A `{kind}` message needs `payload.query`, a string."
        if not isinstance(payload.get("variables") or {}, dict) or \
                not isinstance(payload.get("operationName") or "", str):
            return "`payload.variables` must be an object and `payload.operationName` a string."
        if contains_nul(payload.get("variables")):
            return NUL_MESSAGE
    return None


class AuthGraphQLTransportWSHandler(_Guard, BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with token auth. A `subscribe` before `connection_init` is closed with 4401 by the
    protocol itself; a malformed message closes the socket with 4400."""

    async def handle_message(self, message: Any) -> None:
        problem = malformed(message, with_id=("subscribe", "complete"), with_query="subscribe")
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await self._closed_unless_authenticated(lambda: super(AuthGraphQLTransportWSHandler, self)
                                                .handle_connection_init(message))
        if self.connection_acknowledged:
            # Strawberry cancelled the init watchdog but keeps the task (and its coroutine) for the socket's life;
            # the loop holds it until its cancellation has run, and `shutdown` copes with None.
            watchdog = self.connection_init_timeout_task
            if watchdog is not None and (watchdog.done() or watchdog.cancelling()):
                self.connection_init_timeout_task = None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if self.connection_acknowledged and limit is not None and len(self.operations) >= limit \
                and message["id"] not in self.operations:  # Strawberry's own refusal says less
            error = {"message": f"Subscription limit reached: at most {limit} operations run at the same time on "
                                "one connection; complete one first (or open another connection).",
                     "extensions": {"code": "LIMIT_EXCEEDED"}}
            refusal: Any = {"id": message["id"], "type": "error", "payload": [error]}
            await self.send_message(refusal)
            return
        payload = message["payload"]
        payload["query"] = shared_text(payload["query"])
        await super().handle_subscribe(message)

    # Parked subscriptions (`orderEvents` whose feed group delivers everything): operation id -> (its feed member,
    # what ends its report, when it started, the operation task's context). Made on first use.
    _parked: dict[str, tuple[Member, Callable[[], None] | None, float | None, contextvars.Context]] | None = None

    async def run_operation(self, operation: Any) -> None:
        current_operation.set((self, operation))  # the operation's own task: its resolver may deliver directly
        try:
            await super().run_operation(operation)
        except Parked as parked:
            # The operation's feed member is direct and idle: the group delivers, and this task (Strawberry's
            # per-operation pipeline, ≈ 9 KiB a subscription) ends. The operation stays open and counted.
            self._park(operation, parked)

    def _park(self, operation: Any, parked: Parked) -> None:
        task = asyncio.current_task()
        if operation.task is task:
            operation.task = None
        if self._parked is None:
            self._parked = {}
        self._parked[operation.id] = (parked.member, parked.finish, parked.started, contextvars.copy_context())
        if operation.completed or self.operations.get(operation.id) is not operation:
            self._released(self._parked.pop(operation.id))  # completed meanwhile: nothing delivers to it any more

    def resume_parked(self, operation: Any) -> None:
        """Run a parked operation's pipeline again (its member needs a generator: an event the group could not
        deliver, or a failure), in a new task adopting the member where the old one stopped."""
        entry = self._parked.pop(operation.id, None) if self._parked is not None else None
        if entry is None:
            return
        if operation.completed or self.operations.get(operation.id) is not operation:
            self._released(entry)
            return
        member, _, started, context = entry
        operation.task = asyncio.get_running_loop().create_task(
            self._resume(operation, member, started), context=context)
        operation.task.add_done_callback(self._task_done)

    async def _resume(self, operation: Any, member: Member, started: float | None) -> None:
        resumed_subscription.set((member, started if started is not None else time.perf_counter()))
        try:
            await self.run_operation(operation)
        finally:
            if not member.parked and member in member.group.members:
                await release(member.group.live, member)  # the pipeline ended before its feed adopted the member

    def _released(self, entry: tuple[Member, Callable[[], None] | None, float | None, Any]) -> None:
        member, finish, _, _ = entry
        if finish is not None:
            finish()
        task = asyncio.get_running_loop().create_task(release(member.group.live, member))
        _RELEASING.add(task)
        task.add_done_callback(_RELEASING.discard)

    async def cleanup_operation(self, operation_id: str) -> None:
        entry = self._parked.pop(operation_id, None) if self._parked is not None else None
        if entry is None:
            await super().cleanup_operation(operation_id)
            return
        self.operations.pop(operation_id, None)
        member, finish, _, _ = entry
        if finish is not None:
            finish()
        await release(member.group.live, member)

    async def shutdown(self) -> None:
        self._stop_watching()
        await super().shutdown()


_RELEASING: set[asyncio.Task[None]] = set()  # releases started outside a handler's task, until they are done


class AuthLegacyGraphQLWSHandler(_Guard, LegacyGraphQLWSHandler):
    """The legacy graphql-ws protocol (behind its setting) with the same token auth."""

    async def handle_message(self, message: Any) -> None:
        problem = malformed(message, with_id=("start", "stop"), with_query="start")
        if problem is not None:
            await self.websocket.close(code=4400, reason=problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: LegacyInitMessage) -> None:
        await self._closed_unless_authenticated(lambda: super(AuthLegacyGraphQLWSHandler, self)
                                                .handle_connection_init(message))

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self._stop_watching()

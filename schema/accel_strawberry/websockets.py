"""Accelerator for Strawberry's graphql-transport-ws handler: direct delivery and parked `orderEvents` subscriptions.

Direct delivery: the tail's task writes each subscriber's `next` frame. Parked: an idle subscription keeps no
operation task.

It reaches into the handler's internals (its operations, their tasks and completion): used only on the Strawberry
series it was tested with (pinned in pyproject.toml) and only when `Settings.accelerate`. Otherwise every event goes
through Strawberry's own per-subscription pipeline, still executed once per distinct selection (`schema.fanout`).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from contextvars import ContextVar
from typing import Any

from graphql import ExecutionResult

from omniman_gql.live.feed import Follower, OrderEventItem, Parked, release
from omniman_gql.live.shared import LiveFeeds

from ..accel_uvicorn import RawFrames
from ..fanout import MessageEncoder, SharingExecutor, current_executor

CHECKPOINTS = 4  # bare yields `start_now` steps over before it leaves a send to the subscriber's task

# Set in a graphql-transport-ws operation's own task: (its handler, the operation), for its resolver.
current_operation: ContextVar[tuple[Any, Any] | None] = ContextVar("omniman_ws_operation", default=None)
# Set in the task that resumes a parked subscription: (its follower, when the subscription started, as
# `time.perf_counter()` counts).
resumed_subscription: ContextVar[tuple[Follower, float] | None] = ContextVar("omniman_resumed", default=None)


class DirectDelivery:
    """Sends one `orderEvents` subscriber's events from its tail's task: the event's shared result, as a `next`
    frame written to the socket at once. Declines (the subscription's own stream then sends it, as Strawberry
    would) once the operation is over, for a result with errors (masked and logged by Strawberry), and when the
    send raises; a send the socket cannot take at once is returned unfinished for the subscriber to complete."""

    __slots__ = ("encoder", "executor", "handler", "operation", "raw", "send_text", "views")

    def __init__(self, handler: Any, operation: Any, executor: SharingExecutor, views: Any,
                 encoder: MessageEncoder, send_text: Any, raw: RawFrames | None) -> None:
        self.handler = handler
        self.operation = operation
        self.executor = executor
        self.views = views  # the process's `subscriptions.SharedEventViews`
        self.encoder = encoder
        self.send_text = send_text
        self.raw = raw  # the frame straight to the transport while it takes it at once (uvicorn, no compression)

    def _current(self) -> bool:
        return not self.operation.completed and self.handler.operations.get(self.operation.id) is self.operation

    @property
    def resume(self) -> Callable[[], None]:
        """Run this parked subscription's operation again."""
        handler, operation = self.handler, self.operation
        return lambda: handler.resume_parked(operation)

    def __call__(self, item: OrderEventItem) -> Any:
        """True, False, an unfinished send, or a coroutine answering one of these (see `live.feed.Deliver`)."""
        if not self._current():
            return False
        result = self.executor.shared_result(self.views.get(item)[3], item.cursor)  # most: executed for another
        if result is None:
            result = self.executor.event_result(self.views.message(item))  # this task resolves it (loaders set)
            if inspect.isawaitable(result):
                return self._when_executed(result)
        return self._send(result)

    async def _when_executed(self, pending: Awaitable[ExecutionResult]) -> Any:
        return self._send(await pending)

    def _send(self, result: ExecutionResult) -> Any:
        if result.errors or not isinstance(result.data, dict) or not self._current():
            return False
        if self.raw is not None and self.raw.write(self.encoder.next_tail(result.data)):
            return True
        return start_now(self.send_text(self.encoder.next_frame(self.operation.id, result.data)))


def direct_delivery(live: LiveFeeds, views: Any) -> DirectDelivery | None:
    """Direct delivery for the running subscription, when it runs in an accelerated graphql-transport-ws handler."""
    executor, running = current_executor.get(), current_operation.get()
    websocket = getattr(running[0].websocket, "ws", None) if running else None
    send_text = getattr(websocket, "send_text", None)
    if executor is None or running is None or send_text is None:
        return None
    encoder = live.attachments.get("direct_encoder")
    if encoder is None:
        encoder = live.attachments["direct_encoder"] = MessageEncoder()
    return DirectDelivery(running[0], running[1], executor, views, encoder, send_text,
                          RawFrames.of(websocket, running[1].id))


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


_RELEASING: set[asyncio.Task[None]] = set()  # releases started outside a handler's task, until they are done


class DirectDeliveryHandler:
    """Mixed into the graphql-transport-ws handler: while accelerating, each operation's task tells its resolver
    which operation it runs (`current_operation`), and an `orderEvents` operation whose follower is direct and idle
    parks: its task (Strawberry's per-operation pipeline) ends, the operation stays open and counted, and the tail
    delivers. `resume_parked` runs the pipeline again when the follower needs it."""

    operations: dict[str, Any]
    view: Any
    connection_init_timeout_task: asyncio.Task[None] | None
    connection_acknowledged: bool
    # Parked operations: id -> (the follower, what ends its report, when it started, the operation task's context).
    _parked: dict[str, tuple[Follower, Callable[[], None] | None, float | None, contextvars.Context]] | None = None

    @property
    def accelerated(self) -> bool:
        return bool(getattr(getattr(self.view, "settings", None), "accelerate", False))

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)  # type: ignore[misc]
        watchdog = self.connection_init_timeout_task
        if self.accelerated and self.connection_acknowledged and watchdog is not None \
                and (watchdog.done() or watchdog.cancelling()):
            # Strawberry cancelled the init watchdog but keeps the task (and its coroutine) for the socket's life;
            # the loop holds it until its cancellation has run, and `shutdown` copes with None.
            self.connection_init_timeout_task = None

    async def run_operation(self, operation: Any) -> None:
        if not self.accelerated:
            await super().run_operation(operation)  # type: ignore[misc]
            return
        current_operation.set((self, operation))  # the operation's own task: its resolver may deliver directly
        try:
            await super().run_operation(operation)  # type: ignore[misc]
        except Parked as parked:
            self._park(operation, parked)

    def _park(self, operation: Any, parked: Parked) -> None:
        if operation.task is asyncio.current_task():
            operation.task = None
        if self._parked is None:
            self._parked = {}
        self._parked[operation.id] = (parked.follower, parked.finish, parked.started, contextvars.copy_context())
        if operation.completed or self.operations.get(operation.id) is not operation:
            self._released(self._parked.pop(operation.id))  # completed meanwhile: nothing delivers to it any more

    def resume_parked(self, operation: Any) -> None:
        """Run a parked operation's pipeline again (its follower needs a generator: an event the tail could not
        deliver, or a failure), in a new task adopting the follower where the old one stopped."""
        entry = self._parked.pop(operation.id, None) if self._parked is not None else None
        if entry is None:
            return
        if operation.completed or self.operations.get(operation.id) is not operation:
            self._released(entry)
            return
        follower, _, started, context = entry
        operation.task = asyncio.get_running_loop().create_task(
            self._resume(operation, follower, started), context=context)
        operation.task.add_done_callback(self._task_done)  # type: ignore[attr-defined]

    async def _resume(self, operation: Any, follower: Follower, started: float | None) -> None:
        resumed_subscription.set((follower, started if started is not None else time.perf_counter()))
        try:
            await self.run_operation(operation)
        finally:
            if not follower.parked and follower in follower.tail.followers:
                await release(follower)  # the pipeline ended before its feed adopted it

    def _released(self, entry: tuple[Follower, Callable[[], None] | None, float | None, Any]) -> None:
        follower, finish, _, _ = entry
        if finish is not None:
            finish()
        task = asyncio.get_running_loop().create_task(release(follower))
        _RELEASING.add(task)
        task.add_done_callback(_RELEASING.discard)

    async def cleanup_operation(self, operation_id: str) -> None:
        entry = self._parked.pop(operation_id, None) if self._parked is not None else None
        if entry is None:
            await super().cleanup_operation(operation_id)  # type: ignore[misc]
            return
        self.operations.pop(operation_id, None)
        follower, finish, _, _ = entry
        if finish is not None:
            finish()
        await release(follower)

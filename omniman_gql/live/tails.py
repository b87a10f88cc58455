"""Per-process readers of the order-event log ("tails"): one per channel (or one for all channels), woken by
pub/sub and shared by every local feed, so an event is read and its order loaded once per process, whatever
the number of subscribers."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .eventlog import Horizon, LoggedEvent, read_events_with_orders, snapshot, with_lines_and_channels, with_orders
from ..models import Channel, Order, OrderEvent
from .pubsub import PubSub, SubscriptionClosed
from ..runtime import Hub

log = logging.getLogger(__name__)

PAGE = 500


def tail_topic(key: str | None) -> str:
    return f"order-events:{key}" if key is not None else "order-events:*"


@dataclass(frozen=True, slots=True)
class Batch:
    """Events a tail read in one snapshot (id order), and a horizon valid for it: every event of the tail's key with
    id <= horizon is in this batch, in an earlier one, or was committed before the watcher registered."""

    key: str | None
    events: tuple[LoggedEvent, ...]
    horizon: int


def lagged_reason(maxsize: int) -> str:
    return (f"The subscriber fell more than {maxsize} events behind and was closed; subscribe again with `after` "
            "set to the last cursor it received to catch up.")


class Watcher:
    """One feed's bounded inbox; a feed that falls more than `maxsize` events behind is closed with a reason."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.closed_reason: str | None = None
        self._batches: deque[Batch] = deque()
        self._size = 0
        self._wakeup = asyncio.Event()

    def push(self, batch: Batch) -> None:
        if self.closed_reason is not None:
            return
        if self._size + len(batch.events) > self.maxsize:
            self.close(lagged_reason(self.maxsize))
            return
        self._batches.append(batch)
        self._size += len(batch.events)
        self._wakeup.set()

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._batches.clear()
            self._size = 0
        self._wakeup.set()

    async def get(self) -> Batch:
        while not self._batches and self.closed_reason is None:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self._batches:
            batch = self._batches.popleft()
            self._size -= len(batch.events)
            return batch
        raise SubscriptionClosed(self.closed_reason or "closed", code="subscriber_lagged")


class Tail:
    """Reads new events of one key after each pub/sub "something new" (and every `poll_s`, in case a message was
    lost), tracking its own position with the same floor + seen-ids rule as cursors."""

    def __init__(self, owner: OrderEventTails, key: str | None) -> None:
        self.owner = owner
        self.key = key
        self.watchers: set[Watcher] = set()
        self.users = 0
        self.floor = 0
        self.seen: set[int] = set()
        self.ready = asyncio.Event()
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        try:
            async with self.owner.pubsub.subscribe([tail_topic(self.key)], maxsize=64, overflow="drop") as pokes:
                await self._start()
                self.ready.set()
                while True:
                    wait = self.owner.fast_poll_s if self.owner.horizon.pending else self.owner.poll_s
                    with anyio.move_on_after(wait):
                        await pokes.wait()
                    pokes.drain()
                    pokes.lagged = False
                    try:
                        await self._read()
                    except Exception:
                        log.exception("reading order events for %s failed; retrying", self.key or "all channels")
                        await asyncio.sleep(min(self.owner.poll_s, 1.0))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the feeds waiting for this tail
            self.error = exc
            self.ready.set()
            for watcher in list(self.watchers):
                watcher.close(f"The live stream stopped: {exc}")
            log.exception("order-event tail for %s stopped", self.key or "all channels")

    async def _start(self) -> None:
        """Start at the safe horizon: everything at or below it, or visible now, is "before" this tail."""
        horizon = self.owner.horizon
        deadline = anyio.current_time() + self.owner.horizon_wait_s
        while True:
            async with snapshot(self.owner.hub.session_factory, postgresql=self.owner.postgresql) as db:
                safe = await horizon.observe(db)
                if horizon.established or anyio.current_time() > deadline:
                    if not horizon.established:
                        safe = await self._assume(db)
                    query = select(OrderEvent.id).where(OrderEvent.id > safe)
                    if self.key is not None:
                        query = query.where(OrderEvent.channel_code == self.key)
                    self.seen = set((await db.execute(query)).scalars())
                    self.floor = safe
                    return
            await asyncio.sleep(0.02)

    async def _assume(self, db: AsyncSession) -> int:
        top = int((await db.execute(select(func.max(OrderEvent.id)))).scalar() or 0)
        log.warning("a database transaction has been open for over %.0fs; starting the live stream at event %s "
                    "without proof that no earlier event is still in flight", self.owner.horizon_wait_s, top)
        self.owner.horizon.safe = max(self.owner.horizon.safe, top)
        self.owner.horizon.established = True
        return top

    async def _read(self) -> None:
        channels = None if self.key is None else [self.key]
        async with snapshot(self.owner.hub.session_factory, postgresql=self.owner.postgresql) as db:
            safe = await self.owner.horizon.observe(db)
            fresh: list[OrderEvent] = []
            orders: dict[int, Order] = {}
            codes: dict[str, Channel] = {}
            above = self.floor
            while True:  # each event with its order and channel: one statement a page
                rows = await read_events_with_orders(db, channels, above=above, limit=PAGE)
                for event, order, channel in rows:
                    if event.id not in self.seen:
                        fresh.append(event)
                        orders[order.id] = order  # type: ignore[index]
                        if channel is not None:
                            codes[channel.code] = channel
                if len(rows) < PAGE:
                    break
                above = int(rows[-1][0].id or 0)
            logged = await with_lines_and_channels(db, await with_orders(db, fresh, orders), codes)
        self.seen.update(item.id for item in logged)
        advanced = safe > self.floor
        if advanced:
            self.floor = safe
            self.seen = {i for i in self.seen if i > safe}
        if logged or advanced:  # a horizon alone lets feeds of several channels move their floor on
            batch = Batch(key=self.key, events=tuple(logged), horizon=safe)
            for watcher in list(self.watchers):
                watcher.push(batch)


class OrderEventTails:
    """The process's tails, created with the first watcher of a key and stopped with its last."""

    def __init__(self, hub: Hub, pubsub: PubSub, *, poll_s: float = 5.0, fast_poll_s: float = 0.1,
                 horizon_wait_s: float = 5.0) -> None:
        self.hub = hub
        self.pubsub = pubsub
        self.poll_s = poll_s
        self.fast_poll_s = fast_poll_s
        self.horizon_wait_s = horizon_wait_s
        self.postgresql = not hub.settings.is_sqlite
        self.horizon = Horizon()
        self.tails: dict[str | None, Tail] = {}

    @asynccontextmanager
    async def watch(self, keys: Sequence[str | None], *, maxsize: int) -> AsyncIterator[tuple[Watcher, list[Tail]]]:
        """Wait until each key's tail is reading, then register a watcher on all of them at once.

        Yields the watcher and the tails; at that moment each tail's `floor` and `seen` say exactly which events
        the watcher will NOT get (those at or below the floor, and the seen ids): the caller must read them now,
        before awaiting anything. Afterwards a tail's `floor` is still a valid horizon at any time.
        """
        watcher = Watcher(maxsize)
        tails = [self._tail(key) for key in keys]
        for tail in tails:
            tail.users += 1  # keeps the tail alive while we wait for it
        try:
            for tail in tails:
                await tail.ready.wait()
                if tail.error is not None:
                    raise SubscriptionClosed(f"The live stream is unavailable: {tail.error}", code="unavailable")
            for tail in tails:
                tail.watchers.add(watcher)
            yield watcher, tails
        finally:
            with anyio.CancelScope(shield=True):
                for tail in tails:
                    tail.watchers.discard(watcher)
                    tail.users -= 1
                    if tail.users == 0:
                        await self._stop(tail)

    def _tail(self, key: str | None) -> Tail:
        tail = self.tails.get(key)
        if tail is None or tail.error is not None:
            tail = self.tails[key] = Tail(self, key)
            tail.task = asyncio.create_task(tail.run(), name=f"omniman-tail-{key or '*'}")
        return tail

    async def _stop(self, tail: Tail) -> None:
        if self.tails.get(tail.key) is tail:
            del self.tails[tail.key]
        if tail.task is not None and not tail.task.done():
            tail.task.cancel()
            with anyio.move_on_after(5):
                try:
                    await tail.task
                except asyncio.CancelledError:
                    pass

    def tasks(self) -> list[asyncio.Task[None]]:
        return [t.task for t in self.tails.values() if t.task is not None and not t.task.done()]

    async def aclose(self) -> None:
        for tail in list(self.tails.values()):
            for watcher in tail.watchers:
                watcher.close("The server is shutting down.")
            await self._stop(tail)

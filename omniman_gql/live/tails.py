"""Per-process readers of the order-event log ("tails"), one per channel set (or one for every channel).

Woken by pub/sub, each reads new events once for the process and hands every batch to the feeds that follow it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Channel, Order, OrderEvent
from ..outages import classify, logged_outage
from ..runtime import Hub
from .eventlog import (
    Horizon,
    LoggedEvent,
    Position,
    read_events_with_orders,
    snapshot,
    with_lines_and_channels,
    with_orders,
)
from .inbox import SubscriptionClosed
from .pubsub import Message, PubSub


class Follower(Protocol):
    """A feed following a tail (`live.feed.Follower`): it takes each batch, or is told the tail failed."""

    def take(self, batch: Batch) -> Coroutine[Any, Any, None] | None: ...

    def fail(self, error: BaseException) -> None: ...

log = logging.getLogger(__name__)

PAGE = 500
Key = tuple[str, ...] | None  # the channels a tail reads, sorted; None: every channel


def tail_key(channels: str | Iterable[str] | None) -> Key:
    """The key of the tail reading `channels` (one code, several, or None for every channel)."""
    if channels is None:
        return None
    return (channels,) if isinstance(channels, str) else tuple(sorted(set(channels)))


def tail_topics(key: Key) -> list[str]:
    return ["order-events:*"] if key is None else [f"order-events:{code}" for code in key]


@dataclass(frozen=True, slots=True)
class Batch:
    """Events a tail read in one snapshot (id order), and a horizon valid for it: every event of the tail's channels
    with id <= horizon is in this batch, in an earlier one, or was read before the follower joined."""

    events: tuple[LoggedEvent, ...]
    horizon: int


class Tail:
    """Reads the new events of its channels after each pub/sub "something new" (and every `poll_s`, in case a
    message was lost), tracking its own position with the same floor + seen-ids rule as cursors, and hands each
    batch to its followers in turn (a follower that keeps up gets its events from this task directly)."""

    def __init__(self, tails: Tails, key: Key) -> None:
        self.tails = tails
        self.key = key
        self.followers: set[Follower] = set()
        self.users = 0  # followers, and feeds waiting to become one
        self.floor = 0
        self.seen: set[int] = set()
        self.ready = asyncio.Event()
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None
        self.delivered = 0  # events delivered directly (no subscriber's own task had to send them)
        self._poked = asyncio.Event()

    def start_position(self) -> Position:
        """"Now" for a new follower: everything this tail has read (call it with nothing awaited in between)."""
        position = Position(floor=self.floor)
        for event_id in self.seen:
            position.mark(event_id)
        return position

    async def run(self) -> None:
        tails = self.tails
        try:
            async with tails.pubsub.subscribe(tail_topics(self.key), self._poke):
                await self._start()
                self.ready.set()
                while True:
                    with anyio.move_on_after(tails.fast_poll_s if tails.horizon.pending else tails.poll_s):
                        await self._poked.wait()
                    self._poked.clear()
                    try:
                        batch = await self._read()
                    except Exception as exc:
                        # one line per outage, not a traceback per poll while it lasts
                        if not logged_outage(exc, "order-event tail"):
                            log.exception("reading order events for %s failed; retrying", self.key or "all channels")
                        await asyncio.sleep(min(tails.poll_s, 1.0))
                        continue
                    if batch is not None:
                        for follower in list(self.followers):
                            pending = follower.take(batch)
                            if pending is not None:
                                await pending
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the feeds following this tail
            self.error = exc
            self.ready.set()
            for follower in list(self.followers):
                follower.fail(SubscriptionClosed(_stopped(exc, "The live stream stopped"), code="unavailable"))
            log.exception("order-event tail for %s stopped", self.key or "all channels")

    def _poke(self, _message: Message) -> None:
        self._poked.set()

    async def _start(self) -> None:
        """Start at the safe horizon: everything at or below it, or visible now, is "before" this tail."""
        horizon = self.tails.horizon
        deadline = anyio.current_time() + self.tails.horizon_wait_s
        while True:
            async with snapshot(self.tails.hub) as db:
                safe = await horizon.observe(db)
                if horizon.established or anyio.current_time() > deadline:
                    if not horizon.established:
                        safe = await self._assume(db)
                    query = select(OrderEvent.id).where(OrderEvent.id > safe)
                    if self.key is not None:
                        query = query.where(OrderEvent.channel_code.in_(self.key))
                    self.seen = set((await db.execute(query)).scalars())
                    self.floor = safe
                    return
            await asyncio.sleep(0.02)

    async def _assume(self, db: AsyncSession) -> int:
        top = int((await db.execute(select(func.max(OrderEvent.id)))).scalar() or 0)
        log.warning("a database transaction has been open for over %.0fs; starting the live stream at event %s "
                    "without proof that no earlier event is still in flight", self.tails.horizon_wait_s, top)
        self.tails.horizon.safe = max(self.tails.horizon.safe, top)
        self.tails.horizon.established = True
        return top

    async def _read(self) -> Batch | None:
        """The events committed since the last read, with their orders, lines and channels (one snapshot)."""
        async with snapshot(self.tails.hub) as db:
            safe = await self.tails.horizon.observe(db)
            fresh: list[OrderEvent] = []
            orders: dict[int, Order] = {}
            codes: dict[str, Channel] = {}
            above = self.floor
            while True:  # each event with its order and channel: one statement a page
                rows = await read_events_with_orders(db, self.key, above=above, limit=PAGE)
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
        # A horizon alone lets followers move their floor on (their cursors shrink back to a bare floor).
        return Batch(events=tuple(logged), horizon=safe) if logged or advanced else None


class Tails:
    """The process's tails, created with the first follower of a channel set and stopped with its last."""

    def __init__(self, hub: Hub, pubsub: PubSub, *, poll_s: float = 5.0, fast_poll_s: float = 0.1,
                 horizon_wait_s: float = 5.0) -> None:
        self.hub = hub
        self.pubsub = pubsub
        self.poll_s = poll_s
        self.fast_poll_s = fast_poll_s  # while the horizon waits for a writer to finish
        self.horizon_wait_s = horizon_wait_s
        self.horizon = Horizon()
        self.tails: dict[Key, Tail] = {}

    def get(self, channels: str | Iterable[str] | None) -> Tail | None:
        return self.tails.get(tail_key(channels))

    async def acquire(self, key: Key) -> Tail:
        """The running tail of `key` (started if need be), counted as used until `release`.
        Errors: SubscriptionClosed (unavailable) when it cannot start."""
        tail = self.tails.get(key)
        if tail is None or tail.error is not None:
            tail = self.tails[key] = Tail(self, key)
            tail.task = asyncio.create_task(tail.run(), name=f"omniman-tail-{','.join(key or ('*',))}")
        tail.users += 1
        try:
            await tail.ready.wait()
            if tail.error is not None:
                raise SubscriptionClosed(_stopped(tail.error, "The live stream is unavailable"), code="unavailable")
        except BaseException:
            await self.release(tail)
            raise
        return tail

    async def release(self, tail: Tail, follower: Follower | None = None) -> None:
        """Forget `follower` (if given) and one use of `tail`; the last one stops it."""
        if follower is not None:
            tail.followers.discard(follower)
        tail.users -= 1
        if tail.users > 0:
            return
        if self.tails.get(tail.key) is tail:
            del self.tails[tail.key]
        if tail.task is not None and not tail.task.done():
            tail.task.cancel()
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                try:
                    await tail.task
                except asyncio.CancelledError:
                    pass

    def tasks(self) -> list[asyncio.Task[None]]:
        return [t.task for t in self.tails.values() if t.task is not None and not t.task.done()]

    async def aclose(self) -> None:
        for tail in list(self.tails.values()):
            for follower in list(tail.followers):
                follower.fail(SubscriptionClosed("The server is shutting down."))
            tail.users = 1
            await self.release(tail)


def _stopped(exc: BaseException, what: str) -> str:
    """What a subscriber hears when its tail stopped: an outage's fixed message (a driver's text may name hosts)."""
    outage = classify(exc)
    return outage.message if outage is not None else f"{what}: {exc}"

"""Live feeds for subscriptions: order events (replay after a cursor, then live, no gap, no duplicate) and the
changes of one session.

`order_event_feed` registers with the process's tails first (so nothing committed from then on is missed), then
replays from the database what the cursor has not seen, then delivers what the tails read, skipping whatever its
position has already handled (see `eventlog` for why a position is a floor plus a few ids, which is what keeps a
late-committing lower id from being lost on PostgreSQL). Without `after` it starts at "now", the moment it
registered with the tails: only events they read after that are sent.

The `statuses` filter matches the order's status right after the event (`eventlog.with_orders`): exact, and the
same whether an event is delivered live or replayed. Events that do not match still move the cursor on.

`session_feed` sends the session as it is now, then again after each change (modify, check write-back, commit,
abandon), re-read from the database on each pub/sub message (and every `poll_s` in case one was lost); it ends
after sending a committed or abandoned session, as those never change again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import select

from ..errors import ErrorCode, OmnimanError
from .eventlog import LoggedEvent, Position, read_events, snapshot, with_orders
from ..models import Order, OrderEvent, Session
from .pubsub import PubSub, create_pubsub
from ..runtime import Hub
from ..services.events import session_topic
from .tails import OrderEventTails, Tail
from .token_cache import TokenCache

MAX_CHANNELS = 50
MAX_STATUSES = 50


@dataclass(frozen=True, slots=True)
class OrderEventItem:
    """One delivered order event: the cursor to resume after it, the event, its order and the status after it."""

    cursor: str
    logged: LoggedEvent

    @property
    def event(self) -> OrderEvent:
        return self.logged.event

    @property
    def order(self) -> Order:
        return self.logged.order

    @property
    def status(self) -> str:
        return self.logged.status


class LiveFeeds:
    """What the subscriptions of one process share: the hub, the pub/sub and the order-event tails."""

    def __init__(self, hub: Hub, pubsub: PubSub, *, buffer: int = 1000, replay_page: int = 200,
                 poll_s: float = 5.0, horizon_wait_s: float = 5.0) -> None:
        self.hub = hub
        self.pubsub = pubsub
        self.buffer = buffer
        self.replay_page = replay_page
        self.poll_s = poll_s
        self.tails = OrderEventTails(hub, pubsub, poll_s=poll_s, horizon_wait_s=horizon_wait_s)
        self.attachments: dict[str, Any] = {}  # per-process helpers of the adapters (e.g. shared views per event)

    @property
    def postgresql(self) -> bool:
        return self.tails.postgresql

    async def aclose(self) -> None:
        await self.tails.aclose()


@asynccontextmanager
async def live_stream(hub: Hub) -> AsyncIterator[dict[str, Any]]:
    """The live stream's part of an app lifespan: this process's pub/sub (Redis when `redis_url` is set) becomes
    the Hub's publisher, the feeds' source and what keeps the token cache honest. Yields the lifespan state
    `{"live": LiveFeeds, "tokens": TokenCache}`."""
    settings = hub.settings
    pubsub = create_pubsub(settings)
    previous, hub.publisher = hub.publisher, pubsub
    live = LiveFeeds(hub, pubsub, buffer=settings.subscription_buffer, poll_s=settings.subscription_poll_s)
    tokens = TokenCache(hub, pubsub, ttl_s=settings.token_cache_s)  # it hears revocations on this pub/sub
    try:
        async with tokens.running():
            yield {"live": live, "tokens": tokens}
    finally:
        await live.aclose()
        hub.publisher = previous
        await pubsub.aclose()


def _bounded(values: Sequence[str] | None, *, limit: int, name: str, max_length: int) -> tuple[str, ...] | None:
    if values is None:
        return None
    values = tuple(dict.fromkeys(values))
    if not values:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`{name}` must not be empty (leave it out for all).",
                           field=(name,))
    if len(values) > limit:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`{name}` takes at most {limit} values.", field=(name,))
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value or len(value) > max_length:
            raise OmnimanError(ErrorCode.INVALID_INPUT, f"Each of `{name}` must be 1 to {max_length} characters.",
                               field=(name, i))
    return values


async def order_event_feed(
    live: LiveFeeds,
    *,
    channel_codes: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    after: str | None = None,
) -> AsyncIterator[OrderEventItem]:
    """Order events of `channel_codes` (None: every channel) whose order status right after the event is in
    `statuses` (None: any), from after the cursor `after` (None: from now), forever.

    Errors: invalid_input (bad cursor or filters). Raises `SubscriptionClosed` when the consumer fell more than
    `live.buffer` events behind (resume with the last cursor).
    """
    max_length = live.hub.settings.max_string_length
    channels = _bounded(channel_codes, limit=MAX_CHANNELS, name="channel_codes", max_length=max_length)
    wanted = _bounded(statuses, limit=MAX_STATUSES, name="statuses", max_length=max_length)
    position = Position.decode(after) if after is not None else None
    keys: list[str | None] = list(channels) if channels is not None else [None]
    async with live.tails.watch(keys, maxsize=live.buffer) as (watcher, tails):
        horizons: dict[str | None, int] = {tail.key: tail.floor for tail in tails}
        if position is None:
            position = await _start_position(live, tails, Position(floor=_proven(tails)))
        else:
            async for item in _replay(live, channels, wanted, position, tails):
                yield item
        while True:
            batch = await watcher.get()
            horizons[batch.key] = max(horizons[batch.key], batch.horizon)
            safe = min(horizons.values())
            for item in positioned(batch.events, position, safe, wanted):
                yield item


def positioned(events: Sequence[LoggedEvent], position: Position, safe: int,
               wanted: tuple[str, ...] | None) -> Iterator[OrderEventItem]:
    """A live batch's events not yet handled by `position`, those `wanted`, each with the cursor right after it;
    moves `position` on (to `safe`, the batch's proven horizon, at the end)."""
    for logged in events:
        if position.handled(logged.id):
            continue
        position.mark(logged.id)
        position.advance(min(safe, logged.id))  # everything below it, in id order, is handled by now
        if wanted is None or logged.status in wanted:
            yield OrderEventItem(cursor=position.encode(), logged=logged)
    position.advance(safe)


def _proven(tails: list[Tail]) -> int:
    # A tail's floor is a horizon proven before now, so every event at or below it is visible to a later snapshot.
    return min(tail.floor for tail in tails)


async def _start_position(live: LiveFeeds, tails: list[Tail], position: Position) -> Position:
    """"Now" is the moment the watcher registered: what the tails had read by then is the past."""
    lagging = [tail for tail in tails if tail.floor > position.floor]
    for tail in tails:  # read synchronously, before anything else can run
        for event_id in tail.seen:
            position.mark(event_id)
    if lagging:
        # Events of a key between the lowest floor and its own are final and were read by its tail already.
        async with snapshot(live.hub.session_factory, postgresql=live.postgresql) as db:
            for tail in lagging:
                query = select(OrderEvent.id).where(OrderEvent.id > position.floor, OrderEvent.id <= tail.floor)
                if tail.key is not None:
                    query = query.where(OrderEvent.channel_code == tail.key)
                for event_id in (await db.execute(query)).scalars():
                    position.mark(event_id)
    return position


async def _replay(
    live: LiveFeeds, channels: tuple[str, ...] | None, wanted: tuple[str, ...] | None, position: Position,
    tails: list[Tail],
) -> AsyncIterator[OrderEventItem]:
    """Pages of `id > floor` minus `skip`, each in its own short snapshot (never held while the consumer reads)."""
    while True:
        safe = _proven(tails)
        limit = live.replay_page + len(position.skip)
        async with snapshot(live.hub.session_factory, postgresql=live.postgresql) as db:
            rows = await read_events(db, channels, above=position.floor, limit=limit)
            logged = await with_orders(db, [row for row in rows if not position.handled(int(row.id or 0))])
        for item in logged:
            position.mark(item.id)
            position.advance(min(safe, item.id))
            if wanted is None or item.status in wanted:
                yield OrderEventItem(cursor=position.encode(), logged=item)
        if len(rows) < limit:
            position.advance(safe)
            return
        position.advance(min(safe, int(rows[-1].id or 0)))


async def session_feed(live: LiveFeeds, *, channel_code: str, session_key: str) -> AsyncIterator[Session]:
    """The session now, then after each change; ends after a committed or abandoned session.

    Errors: not_found.
    """
    async with live.pubsub.subscribe([session_topic(channel_code, session_key)], maxsize=16,
                                     overflow="drop") as pokes:
        last: tuple[object, ...] | None = None
        while True:
            async with live.hub.transaction(readonly=True) as uow:
                row = (await uow.db.execute(select(Session).where(
                    Session.channel_code == channel_code, Session.session_key == session_key))).scalar_one_or_none()
            if row is None:
                raise OmnimanError(ErrorCode.NOT_FOUND, f"No session {session_key!r} in channel {channel_code!r}.",
                                   field=("session_key",))
            seen = (row.rev, row.state, row.updated_at)
            if seen != last:
                last = seen
                yield row
            if row.state != "open":
                return
            with anyio.move_on_after(live.poll_s):
                await pokes.wait()
            pokes.drain()
            pokes.lagged = False

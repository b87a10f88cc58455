"""The order-event log as live feeds read it: resumable positions (cursors), the safe id horizon, snapshot reads.

Why a position is more than "the last id": on PostgreSQL ids come from a sequence when the row is inserted, but
rows become visible when their transaction commits, so id 11 can be visible while id 10 is still in flight.
A feed that remembered only "11" would skip 10 forever. A `Position` therefore holds a *floor* (every event at or
below it has been handled) plus the ids above the floor already handled (`skip`). An event is new when it is above
the floor and not in `skip`, so a late id 10 is still accepted after 11, and a resume replays `id > floor` minus
`skip`. The floor moves up to the *safe horizon*: an id H such that every event with id <= H is final (committed and
visible, or never going to exist). See `Horizon` for how it is proven.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..domain.limits import MAX_ROW_ID
from ..errors import ErrorCode, OmnimanError
from ..infra.sqlite import READONLY
from ..models import Channel, Order, OrderEvent, OrderItem
from ..runtime import Hub

CURSOR_PREFIX = "oe1."
MAX_CURSOR_CHARS = 8_000
MAX_SKIP = 400  # ids above the floor a cursor may carry; only a writer stuck for a long time can make it grow
COUNT_WINDOW = 50_000  # widest id range proven gap-free by counting rows instead of waiting for transactions


@dataclass
class Position:
    """Where a feed stands: every event with id <= `floor` or in `skip` has been handled (delivered or filtered)."""

    floor: int = 0
    skip: set[int] = field(default_factory=set)

    def handled(self, event_id: int) -> bool:
        return event_id <= self.floor or event_id in self.skip

    def mark(self, event_id: int) -> None:
        if event_id > self.floor:
            self.skip.add(event_id)
        if len(self.skip) > MAX_SKIP:
            # The horizon has been stuck behind some writer for MAX_SKIP events: raise the floor over the older
            # half rather than let cursors grow without bound (an event below it could only come from a
            # transaction open all that time).
            self.advance(sorted(self.skip)[MAX_SKIP // 2])

    def advance(self, horizon: int) -> None:
        if horizon > self.floor:
            self.floor = horizon
            self.skip = {i for i in self.skip if i > horizon}

    def encode(self) -> str:
        parts = [str(self.floor), *(str(i - self.floor) for i in sorted(self.skip))]
        raw = (CURSOR_PREFIX + ".".join(parts)).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, *, field_name: str = "after") -> Position:
        """Parse a cursor made by `encode`; anything else is `invalid_input` on `field_name`."""
        def bad() -> OmnimanError:
            return OmnimanError(ErrorCode.INVALID_INPUT, "This is not a cursor this server handed out; use the "
                                "`cursor` of a message you received.", field=(field_name,))
        if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_CHARS:
            raise bad()
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise bad() from None
        if not raw.startswith(CURSOR_PREFIX):
            raise bad()
        try:
            numbers = [int(part) for part in raw[len(CURSOR_PREFIX):].split(".")]
        except ValueError:
            raise bad() from None
        floor, deltas = numbers[0], numbers[1:]
        if floor < 0 or any(d <= 0 for d in deltas) or len(deltas) > MAX_SKIP or \
                floor + max(deltas, default=0) > MAX_ROW_ID:  # a database cannot compare a bigger integer
            raise bad()
        return cls(floor=floor, skip={floor + d for d in deltas})


class Horizon:
    """The process's proven safe horizon over order-event ids.

    SQLite: writers are serialised (BEGIN IMMEDIATE) and ids are given out in commit order, so the largest visible
    id is safe. PostgreSQL, two proofs, both valid for the snapshot they were made in:
    * counting: if every id in (safe, max] is visible, nothing below max is missing;
    * transactions: a transaction that got an id <= max (max visible in snapshot S) had its transaction id before
      that, hence before S. We take a transaction id N of our own in S: every such writer has an xid < N. Once a
      later snapshot's `xmin` (the oldest running xid) is >= N, all of them have finished, so max is safe.
      Our writers always lock or insert a row (the order) before inserting events, so their xid exists before the
      event's id is drawn. No NOTIFY, no schema change, nothing added to the write path; an xid is only spent when
      the count shows a gap (a transaction in flight, or a rolled-back id).
    """

    def __init__(self) -> None:
        self.safe = 0
        self.established = False
        self._candidates: list[tuple[int, int]] = []  # (max id seen, our xid then)

    @property
    def pending(self) -> bool:
        return bool(self._candidates)

    async def observe(self, db: AsyncSession) -> int:
        """A horizon valid for `db`'s snapshot (call it first in the transaction); also raises `self.safe`."""
        before = self.safe  # proven earlier, so valid for this (later) snapshot too
        if db.get_bind().dialect.name != "postgresql":
            top = (await db.execute(select(func.max(OrderEvent.id)))).scalar() or 0
            result = max(before, top)
        else:
            # One round trip for what the proof usually needs, all in the snapshot's first statement: the top id,
            # the snapshot's xmin, and whether (before, top] has no gap (counted only over a narrow range).
            top, xmin, above = (await db.execute(_OBSERVE, {"before": before, "window": COUNT_WINDOW})).one()
            top = int(top or 0)
            result = before
            if top > before:
                result = await self._prove(db, before, top, int(xmin), None if above is None else int(above))
        if top <= result:
            self.established = True
        if result > 0:
            self.established = True
        self.safe = max(self.safe, result)
        return result

    async def _prove(self, db: AsyncSession, before: int, top: int, xmin: int, above: int | None) -> int:
        """`above`: how many events (before, top] holds in this snapshot (None: not counted)."""
        ready = [seen for seen, xid in self._candidates if xid <= xmin]
        self._candidates = [(seen, xid) for seen, xid in self._candidates if xid > xmin]
        result = max([before, *ready])
        if result >= top:
            return result
        if self.established and top - result <= COUNT_WINDOW:
            if above == top - before:  # no gap in (before, top], hence none in (result, top]
                return top
            count = (await db.execute(select(func.count()).select_from(OrderEvent).where(
                OrderEvent.id > result, OrderEvent.id <= top))).scalar_one()
            if count == top - result:
                return top
        if not self._candidates or self._candidates[-1][0] < top:
            xid = (await db.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar_one()
            self._candidates = [*self._candidates, (top, int(xid))][-32:]
        return result


# PostgreSQL: the top event id, the snapshot's xmin, and the events in (before, top] when that range is at most
# `window` ids wide (the correlated count runs only then).
_OBSERVE = text(
    "SELECT m.top, pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
    "CASE WHEN m.top > :before AND m.top - :before <= :window THEN "
    "(SELECT count(*) FROM order_events e WHERE e.id > :before AND e.id <= m.top) END "
    "FROM (SELECT max(id) AS top FROM order_events) m")


@asynccontextmanager
async def snapshot(hub: Hub) -> AsyncIterator[AsyncSession]:
    """A short read transaction on one consistent snapshot (REPEATABLE READ on PostgreSQL; a SQLite read
    transaction is one already): how the live stream reads the database."""
    options: dict[str, Any] = {READONLY: True}
    if not hub.settings.is_sqlite:
        options["isolation_level"] = "REPEATABLE READ"
    async with hub.session_factory() as db:
        await db.connection(execution_options=options)
        yield db


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An order event as a feed delivers it, with its order (as loaded now) and the order's status right after it;
    a tail also attaches the order's lines and channel read in the same snapshot (`with_lines_and_channels`)."""

    event: OrderEvent
    order: Order
    status: str
    items: tuple[Any, ...] | None = None  # the order's OrderItem rows, in order; None: not read with the event
    channel: Channel | None = None

    @property
    def id(self) -> int:
        return int(self.event.id or 0)


async def read_events(
    db: AsyncSession, channels: Sequence[str] | None, *, above: int, limit: int
) -> list[OrderEvent]:
    """Events with id > `above` (of `channels`, or all when None), in id order."""
    query = select(OrderEvent).where(OrderEvent.id > above)
    if channels is not None:
        query = query.where(OrderEvent.channel_code.in_(list(channels)))
    return list((await db.execute(query.order_by(OrderEvent.id).limit(limit))).scalars())


async def read_events_with_orders(
    db: AsyncSession, channels: Sequence[str] | None, *, above: int, limit: int
) -> list[tuple[OrderEvent, Order, Channel | None]]:
    """`read_events` with each event's order and the order's channel, in one statement (what a tail reads)."""
    query = (select(OrderEvent, Order, Channel).join(Order, Order.id == OrderEvent.order_id)  # type: ignore[arg-type]
             .outerjoin(Channel, Channel.code == Order.channel_code)  # type: ignore[arg-type]
             .where(OrderEvent.id > above))
    if channels is not None:
        query = query.where(OrderEvent.channel_code.in_(list(channels)))
    return [tuple(row) for row in await db.execute(query.order_by(OrderEvent.id).limit(limit))]  # type: ignore[misc]


async def with_orders(db: AsyncSession, events: Sequence[OrderEvent],
                      known: dict[int, Order] | None = None) -> list[LoggedEvent]:
    """Attach each event's order and the status the order had right after the event (`known`: the events' orders,
    already read in this snapshot).

    The status after an event is exact and the same live or replayed: `created` carries the initial status,
    `status_changed` its `new_status`, and any other event takes the status of the order's latest `created` or
    `status_changed` event before it (events of one order are serialised by the order's row lock, so their ids are
    in commit order).
    """
    if not events:
        return []
    order_ids = {e.order_id for e in events}
    if known is not None and order_ids <= known.keys():
        orders = known
    else:
        orders = {o.id: o for o in (await db.execute(select(Order).where(Order.id.in_(order_ids)))).scalars()}
    need_history = {e.order_id for e in events if e.type not in ("created", "status_changed")}
    timeline: dict[int, list[tuple[int, str]]] = {}
    if need_history:
        rows = await db.execute(
            select(OrderEvent.order_id, OrderEvent.id, OrderEvent.type, OrderEvent.payload)
            .where(OrderEvent.order_id.in_(need_history), OrderEvent.type.in_(("created", "status_changed")),
                   OrderEvent.id <= max(e.id or 0 for e in events))
            .order_by(OrderEvent.id))
        for order_id, event_id, type_, payload in rows:
            timeline.setdefault(order_id, []).append((event_id, _status_set_by(type_, payload) or ""))
    result = []
    for event in events:
        order = orders[event.order_id]
        status = _status_set_by(event.type, event.payload)
        if status is None:
            earlier = [s for i, s in timeline.get(event.order_id, ()) if i < (event.id or 0) and s]
            status = earlier[-1] if earlier else order.status
        result.append(LoggedEvent(event=event, order=order, status=status))
    return result


async def with_lines_and_channels(db: AsyncSession, logged: Sequence[LoggedEvent],
                                  known: dict[str, Channel] | None = None) -> list[LoggedEvent]:
    """`logged` with each order's lines and channel, read in `db`'s snapshot (two statements for the whole batch;
    one when `known` holds every order's channel, read in this snapshot).

    A display's selection asks for both: read here, in the tail's transaction, they spare each event's loaders two
    transactions of their own before an event's first delivery. Same columns and order as the loaders'."""
    if not logged:
        return []
    order_ids = list({item.order.id for item in logged})
    codes = list({item.order.channel_code for item in logged})
    lines: dict[int, list[Any]] = {order_id: [] for order_id in order_ids}
    columns = OrderItem.__table__.columns  # type: ignore[attr-defined]
    query = select(*columns).where(columns.order_id.in_(order_ids)).order_by(columns.order_id, columns.id)
    for row in await db.execute(query):
        lines[row.order_id].append(row)
    if known is not None and set(codes) <= known.keys():
        channels = known
    else:
        channels = {row.code: row for row in (await db.execute(select(Channel).where(
            Channel.code.in_(codes)))).scalars()}  # type: ignore[attr-defined]
    return [replace(item, items=tuple(lines[item.order.id]), channel=channels.get(item.order.channel_code))
            for item in logged]


def _status_set_by(type_: str, payload: Any) -> str | None:
    payload = payload if isinstance(payload, dict) else {}
    if type_ == "created":
        return str(payload["status"]) if payload.get("status") else None
    if type_ == "status_changed":
        return str(payload["new_status"]) if payload.get("new_status") else None
    return None

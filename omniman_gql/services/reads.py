"""Read side of the API: batch reads by keys (one query per batch, for dataloaders) and keyset pages, newest first."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_, select, tuple_
from sqlmodel import SQLModel, col

from ..models import Channel, Directive, Fulfillment, FulfillmentItem, Order, OrderEvent, OrderItem, Session, table_of
from ..runtime import Hub

T = TypeVar("T")
Row = Any  # a read-only row with the model's column attributes (see `_columns`)

# A keyset cursor: (timestamp, id) for orders and sessions, (None, id) for directives.
Position = tuple[dt.datetime | None, int]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, newest first; `has_next` says whether older rows follow."""

    rows: list[T]
    has_next: bool


# ---------------------------------------------------------------------------------------------------------------------
# batches: each opens its own short read-only transaction, so no database session outlives a batch


def _columns(model: type[SQLModel]) -> Select[*tuple[Any, ...]]:
    """SELECT of a model's columns: rows come back as plain named tuples with the same attribute names. Lists use
    this because building an ORM object per row costs far more than the row (most of a long page's time)."""
    return select(*table_of(model).columns)


async def channels_by_codes(hub: Hub, codes: Sequence[str]) -> dict[str, Channel]:
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.db.execute(select(Channel).where(col(Channel.code).in_(list(set(codes)))))).scalars()
        return {row.code: row for row in rows}


async def orders_by_refs(hub: Hub, refs: Sequence[str]) -> dict[str, Order]:
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.db.execute(select(Order).where(col(Order.ref).in_(list(set(refs)))))).scalars()
        return {row.ref: row for row in rows}


async def orders_by_sessions(hub: Hub, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Order]:
    """Orders by (channel_code, session_key) of the session they were committed from."""
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.db.execute(select(Order).where(
            tuple_(col(Order.channel_code), col(Order.session_key)).in_(list(set(keys)))))).scalars()
        return {(row.channel_code, row.session_key): row for row in rows}


async def sessions_by_keys(hub: Hub, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Session]:
    """Sessions by (channel_code, session_key)."""
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.db.execute(select(Session).where(
            tuple_(col(Session.channel_code), col(Session.session_key)).in_(list(set(keys)))))).scalars()
        return {(row.channel_code, row.session_key): row for row in rows}


async def items_for_orders(hub: Hub, order_ids: Sequence[int]) -> dict[int, list[Row]]:
    """Each order's lines (OrderItem columns), in order."""
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.db.execute(_columns(OrderItem).where(col(OrderItem.order_id).in_(list(set(order_ids))))
                                     .order_by(col(OrderItem.order_id), col(OrderItem.id)))).all()
    return _group(rows, "order_id")


async def events_for_orders(hub: Hub, order_ids: Sequence[int]) -> dict[int, list[Row]]:
    """Each order's event log (OrderEvent columns), oldest first."""
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.db.execute(_columns(OrderEvent).where(col(OrderEvent.order_id).in_(list(set(order_ids))))
                                     .order_by(col(OrderEvent.order_id), col(OrderEvent.id)))).all()
    return _group(rows, "order_id")


async def fulfillments_for_orders(hub: Hub, order_ids: Sequence[int]) -> dict[int, list[tuple[Row, list[Row]]]]:
    """Each order's fulfillments (oldest first) with their lines: two queries per batch."""
    async with hub.transaction(readonly=True) as uow:
        fulfillments = (await uow.db.execute(
            _columns(Fulfillment).where(col(Fulfillment.order_id).in_(list(set(order_ids))))
            .order_by(col(Fulfillment.order_id), col(Fulfillment.id)))).all()
        lines: dict[int, list[Row]] = {}
        if fulfillments:
            lines = _group((await uow.db.execute(
                _columns(FulfillmentItem).where(col(FulfillmentItem.fulfillment_id).in_([f.id for f in fulfillments]))
                .order_by(col(FulfillmentItem.id)))).all(), "fulfillment_id")
    out: dict[int, list[tuple[Row, list[Row]]]] = defaultdict(list)
    for fulfillment in fulfillments:
        out[fulfillment.order_id].append((fulfillment, lines.get(fulfillment.id or 0, [])))
    return dict(out)


async def directives_for_orders(hub: Hub, order_refs: Sequence[str]) -> dict[str, list[Row]]:
    """The side effects each order caused (Directive columns), oldest first."""
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.db.execute(_columns(Directive).where(col(Directive.order_ref).in_(list(set(order_refs))))
                                     .order_by(col(Directive.order_ref), col(Directive.id)))).all()
    return _group(rows, "order_ref")


def _group(rows: Any, key: str) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return dict(grouped)


# ---------------------------------------------------------------------------------------------------------------------
# keyset pages: a cursor names the last row seen, so rows inserted meanwhile never shift or repeat a page


def _older_than(ts_column: Any, id_column: Any, after: Position | None) -> list[ColumnElement[bool]]:
    if after is None:
        return []
    ts, row_id = after
    if ts is None:
        return [id_column < row_id]
    return [or_(ts_column < ts, and_(ts_column == ts, id_column < row_id))]


async def _page(hub: Hub, query: Any, first: int) -> Page[Any]:
    async with hub.transaction(readonly=True) as uow:
        rows = list((await uow.db.execute(query.limit(first + 1))).all())
    return Page(rows=rows[:first], has_next=len(rows) > first)


async def order_page(
    hub: Hub,
    *,
    first: int,
    after: Position | None = None,
    channel_codes: Sequence[str] | None = None,
    status: str | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    customer_code: str | None = None,
) -> Page[Row]:
    """Orders (Order columns) newest first; `channel_codes=None` means every channel, `[]` none."""
    conditions = _older_than(Order.created_at, Order.id, after)
    if channel_codes is not None:
        conditions.append(col(Order.channel_code).in_(list(channel_codes)))
    if status is not None:
        conditions.append(col(Order.status) == status)
    if created_after is not None:
        conditions.append(col(Order.created_at) >= created_after)
    if created_before is not None:
        conditions.append(col(Order.created_at) < created_before)
    if customer_code is not None:
        conditions.append(col(Order.customer_code) == customer_code)
    query = _columns(Order).where(*conditions).order_by(col(Order.created_at).desc(), col(Order.id).desc())
    return await _page(hub, query, first)


async def session_page(
    hub: Hub,
    *,
    first: int,
    after: Position | None = None,
    channel_codes: Sequence[str] | None = None,
    state: str | None = None,
) -> Page[Row]:
    """Sessions (Session columns) newest first (by opening time)."""
    conditions = _older_than(Session.opened_at, Session.id, after)
    if channel_codes is not None:
        conditions.append(col(Session.channel_code).in_(list(channel_codes)))
    if state is not None:
        conditions.append(col(Session.state) == state)
    query = _columns(Session).where(*conditions).order_by(col(Session.opened_at).desc(), col(Session.id).desc())
    return await _page(hub, query, first)


async def directive_page(
    hub: Hub, *, first: int, after: Position | None = None, topic: str | None = None, status: str | None = None
) -> Page[Row]:
    """Directives (Directive columns) newest first (by id, which follows creation)."""
    conditions = _older_than(None, Directive.id, (None, after[1]) if after else None)
    if topic is not None:
        conditions.append(col(Directive.topic) == topic)
    if status is not None:
        conditions.append(col(Directive.status) == status)
    return await _page(hub, _columns(Directive).where(*conditions).order_by(col(Directive.id).desc()), first)


async def directive_by_id(hub: Hub, directive_id: int) -> Directive | None:
    async with hub.transaction(readonly=True) as uow:
        return (await uow.db.execute(
            select(Directive).where(col(Directive.id) == directive_id))).scalar_one_or_none()


async def channel_of_fulfillment(hub: Hub, ref: str) -> str | None:
    """The channel code of the order a fulfillment belongs to (None if there is no such fulfillment)."""
    async with hub.transaction(readonly=True) as uow:
        return (await uow.db.execute(
            select(col(Order.channel_code)).join(Fulfillment, col(Fulfillment.order_id) == col(Order.id))
            .where(col(Fulfillment.ref) == ref))).scalar_one_or_none()


async def fulfillment_by_ref(hub: Hub, ref: str) -> tuple[str, Row, list[Row]] | None:
    """A fulfillment by ref: its order's channel code, its row and its lines (None if there is no such one)."""
    async with hub.transaction(readonly=True) as uow:
        found = (await uow.db.execute(
            select(col(Order.channel_code), Fulfillment).join(Order, col(Fulfillment.order_id) == col(Order.id))
            .where(col(Fulfillment.ref) == ref))).first()
        if found is None:
            return None
        lines = (await uow.db.execute(_columns(FulfillmentItem).where(
            col(FulfillmentItem.fulfillment_id) == found[1].id).order_by(col(FulfillmentItem.id)))).all()
    return found[0], found[1], list(lines)

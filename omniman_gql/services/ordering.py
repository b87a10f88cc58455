"""Sealing a draft into an order: the order row, its items, its first events and its post-commit directives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from .. import ids
from ..db import UnitOfWork, connection_of, insert_values_returning_ids
from ..domain.flow import OrderFlow
from ..models import Channel, Order, OrderItem, Session, utcnow
from .events import record_events
from .outbox import enqueue_many

SNAPSHOT_VERSION = 1
ITEM_KEYS = ("line_id", "sku", "name", "qty", "unit_price_q", "line_total_q", "meta")


_ITEMS = OrderItem.__table__  # type: ignore[attr-defined]
_INSERT_ITEMS = insert(_ITEMS)
_INSERT_ITEMS_RETURNING = insert(_ITEMS).returning(_ITEMS.c.id)
_ORDERS = Order.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class OrderRow:
    """A new order as plain values (the attributes of `models.Order`): no ORM instance to build for a row that is
    inserted with Core and only read afterwards."""

    id: int
    ref: str
    channel_code: str
    session_key: str
    handle_type: str | None
    handle_ref: str | None
    external_ref: str | None
    status: str
    currency: str
    total_q: int
    items_count: int
    snapshot: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    confirmed_at: dt.datetime | None = None
    processing_at: dt.datetime | None = None
    ready_at: dt.datetime | None = None
    dispatched_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None


_ORDER_COLUMNS = tuple(name for name in OrderRow.__dataclass_fields__ if name != "id")


def clean_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines as orders keep them: the public keys only."""
    return [{key: line.get(key) for key in ITEM_KEYS} for line in items]


async def create_order(
    uow: UnitOfWork,
    *,
    channel: Channel | Any,
    session: Session | Any,
    actor: str,
    external_ref: str | None = None,
    directive_extras: dict[str, dict[str, Any]] | None = None,
) -> OrderRow:
    """Create the order of `session` (already validated), with items, `created` and `price_override` events (I5),
    and the channel's post-commit directives, all inside the caller's transaction."""
    flow = OrderFlow.from_config(channel.config)
    now = utcnow()
    items = clean_items(session.items)
    order = OrderRow(
        id=0, ref=ids.order_ref(now), channel_code=channel.code, session_key=session.session_key,
        handle_type=session.handle_type, handle_ref=session.handle_ref, external_ref=external_ref,
        status=flow.initial_status, currency=channel.currency, total_q=session.pricing.get("total_q", 0),
        items_count=len(items), created_at=now, updated_at=now,
        snapshot={"_v": SNAPSHOT_VERSION, "items": items, "data": session.data, "pricing": session.pricing,
                  "rev": session.rev, "channel_code": channel.code, "pricing_policy": session.pricing_policy},
    )
    # Core INSERTs of plain values, not ORM flushes: these rows are written once and never touched again here.
    values = {name: getattr(order, name) for name in _ORDER_COLUMNS}
    (order.id,) = await insert_values_returning_ids(uow.db, _ORDERS, [values])
    if items:
        connection = await connection_of(uow.db)
        # PostgreSQL: RETURNING makes it one multi-row INSERT (SQLAlchemy's insertmanyvalues) rather than psycopg's
        # executemany in pipeline mode, which costs more to enter and leave than the few rows of an order. SQLite:
        # sqlite3's executemany, one hand-off to aiosqlite's thread (with RETURNING it would go row by row).
        statement = _INSERT_ITEMS_RETURNING if connection.dialect.name == "postgresql" else _INSERT_ITEMS
        await connection.execute(statement, [
            {"order_id": order.id, "line_id": line["line_id"], "sku": line["sku"], "name": line["name"] or line["sku"],
             "qty": Decimal(line["qty"]), "unit_price_q": line["unit_price_q"], "line_total_q": line["line_total_q"],
             "meta": line["meta"] or {}}
            for line in items
        ])
    events: list[tuple[str, dict[str, Any]]] = [("created", {
        "status": order.status, "total_q": order.total_q, "items_count": order.items_count,
        "session_key": session.session_key, **({"external_ref": external_ref} if external_ref else {}),
    })]
    for trace in session.pricing_trace or []:
        if trace.get("source") == "override":
            events.append(("price_override", {
                "line_id": trace["line_id"], "sku": trace["sku"], "given_q": trace["given_q"],
                "backend_q": trace.get("backend_q"), "actor": trace.get("actor", actor),
            }))
    await record_events(uow, order, events, actor=actor)
    base = {"order_ref": order.ref, "channel_code": channel.code, "session_key": session.session_key}
    extras = directive_extras or {}
    topics = channel.config.get("post_commit_directives") or []
    await enqueue_many(uow, [(topic, {**base, **extras.get(topic, {})}) for topic in topics], order_ref=order.ref)
    return order

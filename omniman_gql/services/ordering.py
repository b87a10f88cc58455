"""Sealing a draft into an order: the order row, its items, its first events and its post-commit directives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, bindparam, column, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from .. import ids
from ..infra import pg_direct
from ..infra.db import UnitOfWork, connection_of
from ..domain.flow import OrderFlow
from ..models import Channel, IdempotencyKey, Order, OrderItem, Session, utcnow
from .events import _EVENTS, announce_events, record_events
from .outbox import enqueue_many

SNAPSHOT_VERSION = 1
ITEM_KEYS = ("line_id", "sku", "name", "qty", "unit_price_q", "line_total_q", "meta")


_ITEMS = OrderItem.__table__  # type: ignore[attr-defined]
_INSERT_ITEMS = insert(_ITEMS)
_INSERT_ITEMS_RETURNING = insert(_ITEMS).returning(_ITEMS.c.id)
_ORDERS = Order.__table__  # type: ignore[attr-defined]
_KEYS = IdempotencyKey.__table__  # type: ignore[attr-defined]
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_ITEM_COLUMNS = ("order_id", "line_id", "sku", "name", "qty", "unit_price_q", "line_total_q", "meta")
_MANY_ITEMS = 64  # orders with more lines take SQLAlchemy's executemany (one statement text per count up to here)
_ITEMS_BY_COUNT: dict[int, Any] = {}


def _insert_items(count: int) -> Any:
    """PostgreSQL: one multi-row `INSERT … VALUES (…), (…)` for `count` lines, its parameters named `<column>_<i>`
    (pg_direct sends it as it is; SQLAlchemy's insertmanyvalues would build the same text on every call)."""
    statement = _ITEMS_BY_COUNT.get(count)
    if statement is None:
        statement = _ITEMS_BY_COUNT[count] = insert(_ITEMS).values([
            {name: bindparam(f"{name}_{index}", type_=_ITEMS.c[name].type) for name in _ITEM_COLUMNS}
            for index in range(count)])
    return statement


_LINE_COLUMNS = _ITEM_COLUMNS[1:]
_EVENT_COLUMNS = ("channel_code", "type", "actor", "payload", "created_at")


def _order_lines_and_event(*, done_key: bool = False) -> Any:
    """PostgreSQL: the order, its lines and its one event in ONE statement (two round trips fewer per commit):
    `WITH new_order AS (INSERT … RETURNING id), new_items AS (INSERT … SELECT new_order.id, line.* FROM new_order,
    unnest(<one array per column>) WITH ORDINALITY … ORDER BY ordinality), new_event AS (INSERT … RETURNING id)
    SELECT new_order.id, new_event.id`. One text for any number of lines; lines get their ids in their order.
    `done_key`: also the commit's idempotency key recorded as done (see `_done_key_cte`), its id (NULL if the key
    exists already) as a third column: one round trip fewer again."""
    new_order = (insert(_ORDERS)
                 .values({name: bindparam(f"o_{name}", type_=_ORDERS.c[name].type) for name in _ORDER_COLUMNS})
                 .returning(_ORDERS.c.id).cte("new_order"))
    line = (func.unnest(*(bindparam(f"l_{name}", type_=ARRAY(_ITEMS.c[name].type)) for name in _LINE_COLUMNS))
            .table_valued(*(column(name, _ITEMS.c[name].type) for name in _LINE_COLUMNS), with_ordinality="n")
            .render_derived(name="line"))
    new_items = (insert(_ITEMS)
                 .from_select(list(_ITEM_COLUMNS), select(new_order.c.id, *(line.c[name] for name in _LINE_COLUMNS))
                              .order_by(line.c.n))
                 .cte("new_items"))
    new_event = (insert(_EVENTS)
                 .from_select(["order_id", *_EVENT_COLUMNS], select(new_order.c.id, *(
                     bindparam(f"e_{name}", type_=_EVENTS.c[name].type) for name in _EVENT_COLUMNS)))
                 .returning(_EVENTS.c.id).cte("new_event"))
    answer = select(new_order.c.id.label("order_id"), new_event.c.id.label("event_id")).add_cte(new_items)
    if not done_key:
        return answer
    new_key = _done_key_cte(new_order)
    return answer.add_columns(select(new_key.c.id).scalar_subquery().label("key_id"))


def _done_key_cte(new_order: Any) -> Any:
    """`INSERT INTO idempotency_keys … SELECT … FROM new_order ON CONFLICT DO NOTHING RETURNING id`: the key as the
    one-pass commit records it (status `done`), its result the commit's answer, `{order_ref, order_id, status,
    total_q, items_count}` in that order (json_build_object keeps it), with the new order's id."""
    # psycopg's dialect types every bind (`%(name)s::VARCHAR`), as json_build_object's variadic arguments need.
    def bound(name: str, column: Any) -> Any:
        return bindparam(name, type_=column.type)

    result = func.json_build_object(
        "order_ref", bound("o_ref", _ORDERS.c.ref), "order_id", new_order.c.id, "status", literal("committed"),
        "total_q", bound("o_total_q", _ORDERS.c.total_q), "items_count", bound("o_items_count", _ORDERS.c.items_count))
    row = select(bound("k_scope", _KEYS.c.scope), bound("k_key", _KEYS.c.key), literal("done"),
                 bound("o_session_key", _KEYS.c.session_key), result, bound("k_now", _KEYS.c.created_at),
                 bound("k_now", _KEYS.c.updated_at))
    return (pg_insert(_KEYS)
            .from_select(["scope", "key", "status", "session_key", "result", "created_at", "updated_at"],
                         row.select_from(new_order))
            .on_conflict_do_nothing()
            .returning(_KEYS.c.id)
            .cte("new_key"))


@dataclass(slots=True)
class DoneKey:
    """A commit's idempotency key, to record as done with the order when that costs no statement of its own (the
    order written in one statement: PostgreSQL). `recorded`: None until then (the caller records it itself), then
    whether it was recorded (False: the key exists already). `sent`: the statement carrying it was sent (an error of
    that statement may be the key's: waiting for a concurrent commit holding it)."""

    scope: str
    key: str
    recorded: bool | None = None
    sent: bool = False



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
_ORDER_LINES_AND_EVENT = _order_lines_and_event()
_ORDER_LINES_EVENT_AND_KEY = _order_lines_and_event(done_key=True)


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
    done_key: DoneKey | None = None,
) -> OrderRow:
    """Create the order of `session` (already validated), with items, `created` and `price_override` events (I5),
    and the channel's post-commit directives, all inside the caller's transaction. `done_key`: a commit's key,
    recorded with the order when it is written in one statement (see DoneKey)."""
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
    # Core INSERTs of plain values, not ORM flushes: these rows are written once and never touched again here.
    values = {name: getattr(order, name) for name in _ORDER_COLUMNS}
    connection = await connection_of(uow.db)
    if _in_one_statement(connection, items, events):
        (type_, payload), = events
        params = {f"o_{name}": value for name, value in values.items()}
        params.update({"l_line_id": [line["line_id"] for line in items], "l_sku": [line["sku"] for line in items],
                       "l_name": [line["name"] or line["sku"] for line in items],
                       "l_qty": [Decimal(line["qty"]) for line in items],
                       "l_unit_price_q": [line["unit_price_q"] for line in items],
                       "l_line_total_q": [line["line_total_q"] for line in items],
                       "l_meta": [line["meta"] or {} for line in items],
                       "e_channel_code": order.channel_code, "e_type": type_, "e_actor": actor,
                       "e_payload": dict(payload), "e_created_at": utcnow()})
        if done_key is None:
            order.id, event_id = (await pg_direct.execute(connection, _ORDER_LINES_AND_EVENT, params)).one()
        else:
            params.update({"k_scope": done_key.scope, "k_key": done_key.key, "k_now": utcnow()})
            done_key.sent = True
            order.id, event_id, key_id = (await pg_direct.execute(connection, _ORDER_LINES_EVENT_AND_KEY,
                                                                  params)).one()
            done_key.recorded = key_id is not None
        announce_events(uow, order, [event_id], events)
    else:
        await _insert_one_by_one(uow, connection, order, values, items, events, actor)
    base = {"order_ref": order.ref, "channel_code": channel.code, "session_key": session.session_key}
    extras = directive_extras or {}
    topics = channel.config.get("post_commit_directives") or []
    await enqueue_many(uow, [(topic, {**base, **extras.get(topic, {})}) for topic in topics], order_ref=order.ref)
    return order


def _in_one_statement(connection: Any, items: list[dict[str, Any]], events: list[Any]) -> bool:
    """Whether the order, its lines and its event go in one statement: PostgreSQL, lines, no price overrides."""
    return connection.dialect.name == "postgresql" and bool(items) and len(events) == 1


async def _insert_one_by_one(uow: UnitOfWork, connection: Any, order: OrderRow, values: dict[str, Any],
                             items: list[dict[str, Any]], events: list[tuple[str, dict[str, Any]]],
                             actor: str) -> None:
    """The order, then its lines, then its events: SQLite, orders without lines, and price overrides."""
    order.id = (await pg_direct.execute(connection, _INSERT_ORDER, values)).scalar_one()
    if items:
        rows = [
            {"order_id": order.id, "line_id": line["line_id"], "sku": line["sku"], "name": line["name"] or line["sku"],
             "qty": Decimal(line["qty"]), "unit_price_q": line["unit_price_q"], "line_total_q": line["line_total_q"],
             "meta": line["meta"] or {}}
            for line in items
        ]
        if connection.dialect.name == "postgresql" and len(rows) <= _MANY_ITEMS:
            await pg_direct.execute(connection, _insert_items(len(rows)), {
                f"{name}_{index}": value for index, row in enumerate(rows) for name, value in row.items()})
        else:
            # PostgreSQL: RETURNING makes it one multi-row INSERT (SQLAlchemy's insertmanyvalues) rather than
            # psycopg's executemany in pipeline mode, which costs more to enter and leave than the few rows of an
            # order. SQLite: sqlite3's executemany, one hand-off to aiosqlite's thread (with RETURNING it would go
            # row by row).
            statement = _INSERT_ITEMS_RETURNING if connection.dialect.name == "postgresql" else _INSERT_ITEMS
            await connection.execute(statement, rows)
    await record_events(uow, order, events, actor=actor)

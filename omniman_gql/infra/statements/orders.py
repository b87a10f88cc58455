"""Order statements: an order, its lines and its events (and a commit's key) written together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, bindparam, column, func, insert, literal, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError

from ...models import Order, OrderEvent, OrderItem, utcnow
from ...models.ref import closing_refs
from ...models.rows import ORDER_COLUMNS
from ...uow import DoneKey, LockWaitTimeout, Values
from .commits import KEYS, waited_too_long

_ORDERS = Order.__table__  # type: ignore[attr-defined]
_ITEMS = OrderItem.__table__  # type: ignore[attr-defined]
_EVENTS = OrderEvent.__table__  # type: ignore[attr-defined]
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_INSERT_ITEMS = insert(_ITEMS)
_INSERT_ITEMS_RETURNING = insert(_ITEMS).returning(_ITEMS.c.id)
_CLOSING_REFS = closing_refs(to_order=True)
_LINE_COLUMNS = ("line_id", "sku", "name", "qty", "unit_price_q", "line_total_q", "meta")
_ITEM_COLUMNS = ("order_id", *_LINE_COLUMNS)
_EVENT_COLUMNS = ("channel_code", "type", "actor", "payload", "created_at")


def key_result(order: Values, order_id: int) -> dict[str, Any]:
    """A commit's answer, as its key records it: {order_ref, order_id, status, total_q, items_count}, in that order."""
    return {"order_ref": order["ref"], "order_id": order_id, "status": "committed", "total_q": order["total_q"],
            "items_count": order["items_count"]}


class OrderStatements:
    """Both databases: the order, then its lines, then its events (then the key), each an INSERT of its own."""

    __slots__ = ("_uow",)

    def __init__(self, uow: Any) -> None:
        self._uow = uow

    async def create(self, order: Values, lines: Sequence[Values], events: Sequence[Values], *,
                     done_key: DoneKey | None = None, close_refs: bool = False) -> tuple[int, list[int]]:
        uow = self._uow
        order_id = (await uow.run(_INSERT_ORDER, order)).scalar_one()
        if close_refs:
            await uow.run(_CLOSING_REFS, closing_params(order))
        if lines:
            await self._insert_lines([{"order_id": order_id, **line} for line in lines])
        event_ids = await uow.rows.insert_returning_ids(_EVENTS, [{"order_id": order_id, **e} for e in events])
        if done_key is not None:
            done_key.sent = True
            done_key.recorded = await uow.commits.record_done_key(
                done_key.scope, done_key.key, session_key=order["session_key"], result=key_result(order, order_id),
                now=utcnow())
        return order_id, event_ids

    async def _insert_lines(self, rows: list[dict[str, Any]]) -> None:
        # sqlite3's executemany: one hand-off to the driver (with RETURNING it would go row by row).
        await self._uow.execute(_INSERT_ITEMS, rows)


_MANY_ITEMS = 64  # more lines take SQLAlchemy's executemany (one statement text per count up to here)
_ITEMS_BY_COUNT: dict[int, Any] = {}


def _insert_items(count: int) -> Any:
    """One multi-row `INSERT … VALUES (…), (…)` for `count` lines, its parameters named `<column>_<i>` (compiled once
    per count; SQLAlchemy's insertmanyvalues would build the same text on every call)."""
    statement = _ITEMS_BY_COUNT.get(count)
    if statement is None:
        statement = _ITEMS_BY_COUNT[count] = insert(_ITEMS).values([
            {name: bindparam(f"{name}_{index}", type_=_ITEMS.c[name].type) for name in _ITEM_COLUMNS}
            for index in range(count)])
    return statement


def closing_params(order: Values) -> dict[str, Any]:
    return {"o_channel_code": order["channel_code"], "o_session_key": order["session_key"], "o_ref": order["ref"],
            "r_now": order["created_at"]}


def _order_lines_and_event(*, done_key: bool = False, close_refs: bool = False) -> Any:
    """The order, its lines and its one event in ONE statement (two round trips fewer per commit):
    `WITH new_order AS (INSERT … RETURNING id), new_items AS (INSERT … SELECT new_order.id, line.* FROM new_order
    JOIN unnest(<one array per column>) WITH ORDINALITY … ON true ORDER BY ordinality), new_event AS (INSERT …
    RETURNING id) SELECT new_order.id, new_event.id`. One text for any number of lines; lines get their ids in their
    order. `done_key`: also the commit's key recorded as done (see `_done_key_cte`), its id (NULL if the key exists
    already) as a third column."""
    new_order = (insert(_ORDERS)
                 .values({name: bindparam(f"o_{name}", type_=_ORDERS.c[name].type) for name in ORDER_COLUMNS})
                 .returning(_ORDERS.c.id).cte("new_order"))
    line = (func.unnest(*(bindparam(f"l_{name}", type_=ARRAY(_ITEMS.c[name].type)) for name in _LINE_COLUMNS))
            .table_valued(*(column(name, _ITEMS.c[name].type) for name in _LINE_COLUMNS), with_ordinality="n")
            .render_derived(name="line"))
    new_items = (insert(_ITEMS)
                 .from_select(list(_ITEM_COLUMNS), select(new_order.c.id, *(line.c[name] for name in _LINE_COLUMNS))
                              .select_from(new_order.join(line, true())).order_by(line.c.n))
                 .cte("new_items"))
    new_event = (insert(_EVENTS)
                 .from_select(["order_id", *_EVENT_COLUMNS], select(new_order.c.id, *(
                     bindparam(f"e_{name}", type_=_EVENTS.c[name].type) for name in _EVENT_COLUMNS)))
                 .returning(_EVENTS.c.id).cte("new_event"))
    answer = (select(new_order.c.id.label("order_id"), new_event.c.id.label("event_id"))
              .select_from(new_order.join(new_event, true())).add_cte(new_items))
    if close_refs:  # the session's refs move or end in the same statement (PostgreSQL runs every data-modifying CTE)
        answer = answer.add_cte(_CLOSING_REFS.returning(literal(1)).cte("closed_refs"))
    if not done_key:
        return answer
    new_key = _done_key_cte(new_order)
    return answer.add_columns(select(new_key.c.id).scalar_subquery().label("key_id"))


def _done_key_cte(new_order: Any) -> Any:
    """`INSERT INTO idempotency_keys … SELECT … FROM new_order ON CONFLICT DO NOTHING RETURNING id`: the key as the
    one-pass commit records it (`done`), its result the commit's answer (see `key_result`; json_build_object keeps
    the order of its keys), with the new order's id."""
    # psycopg's dialect types every bind (`%(name)s::VARCHAR`), as json_build_object's variadic arguments need.
    def bound(name: str, column_: Any) -> Any:
        return bindparam(name, type_=column_.type)

    result = func.json_build_object(
        "order_ref", bound("o_ref", _ORDERS.c.ref), "order_id", new_order.c.id, "status", literal("committed"),
        "total_q", bound("o_total_q", _ORDERS.c.total_q), "items_count", bound("o_items_count", _ORDERS.c.items_count))
    row = select(bound("k_scope", KEYS.c.scope), bound("k_key", KEYS.c.key), literal("done"),
                 bound("o_session_key", KEYS.c.session_key), result, bound("k_now", KEYS.c.created_at),
                 bound("k_now", KEYS.c.updated_at))
    return (pg_insert(KEYS)
            .from_select(["scope", "key", "status", "session_key", "result", "created_at", "updated_at"],
                         row.select_from(new_order))
            .on_conflict_do_nothing()
            .returning(KEYS.c.id)
            .cte("new_key"))


# By (done_key, close_refs).
_ONE_STATEMENT = {(key, refs): _order_lines_and_event(done_key=key, close_refs=refs)
                  for key in (False, True) for refs in (False, True)}


def in_one_statement(lines: Sequence[Values], events: Sequence[Values]) -> bool:
    """Whether PostgreSQL writes the order in one statement: lines, and only the `created` event (no overrides)."""
    return bool(lines) and len(events) == 1


class PgOrderStatements(OrderStatements):
    """PostgreSQL: an order with lines and one event (and the commit's key) in one statement."""

    __slots__ = ()

    async def create(self, order: Values, lines: Sequence[Values], events: Sequence[Values], *,
                     done_key: DoneKey | None = None, close_refs: bool = False) -> tuple[int, list[int]]:
        if not in_one_statement(lines, events):
            return await super().create(order, lines, events, done_key=done_key, close_refs=close_refs)
        (event,) = events
        params: dict[str, Any] = {f"o_{name}": order[name] for name in ORDER_COLUMNS}
        params.update({f"l_{name}": [line[name] for line in lines] for name in _LINE_COLUMNS})
        params.update({f"e_{name}": event[name] for name in _EVENT_COLUMNS})
        if close_refs:
            params["r_now"] = order["created_at"]
        if done_key is None:
            order_id, event_id = (await self._uow.run(_ONE_STATEMENT[False, close_refs], params)).one()
            return order_id, [event_id]
        params.update({"k_scope": done_key.scope, "k_key": done_key.key, "k_now": utcnow()})
        done_key.sent = True
        try:
            order_id, event_id, key_id = (await self._uow.run(_ONE_STATEMENT[True, close_refs], params)).one()
        except OperationalError as error:  # it waited for a concurrent commit holding the key (see seal_open)
            if waited_too_long(error):
                raise LockWaitTimeout(str(error.orig)) from error
            raise
        done_key.recorded = key_id is not None
        return order_id, [event_id]

    async def _insert_lines(self, rows: list[dict[str, Any]]) -> None:
        if len(rows) <= _MANY_ITEMS:
            await self._uow.run(_insert_items(len(rows)), {
                f"{name}_{index}": value for index, row in enumerate(rows) for name, value in row.items()})
        else:
            # RETURNING makes it one multi-row INSERT (SQLAlchemy's insertmanyvalues) rather than psycopg's
            # executemany in pipeline mode, which costs more to enter and leave than the few rows of an order.
            await self._uow.execute(_INSERT_ITEMS_RETURNING, rows)

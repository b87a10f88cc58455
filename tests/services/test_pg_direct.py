"""pg_direct: the checkout's statements sent by psycopg directly answer exactly as SQLAlchemy's execution does (rows,
types, row counts, errors), leave to SQLAlchemy what it must prepare itself, and `OMNIMAN_ACCELERATE=false` sends
every statement through SQLAlchemy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.exc import IntegrityError, OperationalError, ResourceClosedError

from omniman_gql.backends.price_table import _PRICES
from omniman_gql.infra.pg_direct import DirectConnection, plan_of
from omniman_gql.infra.statements import orders as order_statements
from omniman_gql.infra.statements.commits import LOCK_NOT_AVAILABLE
from omniman_gql.infra.statements.sessions import CHANNEL, SESSION_CHANNEL, SESSION_CHANNEL_LOCKED, WRITE_DRAFT
from omniman_gql.models import Order
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, commit, ordering, sessions
from omniman_gql.settings import Settings
from tests.factories import make_channel, open_with_items

pytestmark = pytest.mark.anyio


def _sent_by_statement_sets(connection: Any) -> Any:
    """What sends a statement set's statement on `connection`: psycopg directly on PostgreSQL, else SQLAlchemy."""
    return DirectConnection(connection) if connection.dialect.name == "postgresql" else connection


async def _both(connection: Any, statement: object, values: dict[str, object]) -> tuple[list, list]:
    slow = (await connection.execute(statement, values)).all()
    fast = (await _sent_by_statement_sets(connection).execute(statement, values)).all()
    return slow, fast


async def test_rows_are_sqlalchemys_rows(hub: Hub) -> None:
    code = await make_channel(hub, config={"icon": "cup"})
    await catalog.set_prices(hub, prices=[{"sku": "A", "unit_price_q": 125}, {"sku": "B", "unit_price_q": 7}])
    session = await open_with_items(hub, code, [("A", "2", None), ("B", "1.5", 3)])
    keys = {"channel_code": code, "session_key": session.session_key}
    async with hub.engine.connect() as connection:
        for statement, values in ((SESSION_CHANNEL, keys), (SESSION_CHANNEL_LOCKED, keys), (CHANNEL,
                                  {"code": code}), (CHANNEL, {"code": "none-such"})):
            slow, fast = await _both(connection, statement, values)
            assert fast == slow and [row._fields for row in fast] == [row._fields for row in slow]
            assert [[type(value) for value in row] for row in fast] == [[type(value) for value in row] for row in slow]
        wanted = {"skus": ["A", "B", "C"], "channel_code": code, "price_list": ""}
        prices = (await connection.execute(_PRICES, wanted)).all()
        direct = (await _sent_by_statement_sets(connection).execute(_PRICES, wanted)).all()
        assert sorted(direct) == sorted(prices) and len(direct) == 2
        row = (await _sent_by_statement_sets(connection).execute(SESSION_CHANNEL, keys)).one()
        assert row.opened_at.tzinfo is not None and row.items[0]["sku"] == "A" and row.code == code
        await connection.rollback()


async def test_row_counts_and_returned_ids(hub: Hub) -> None:
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("A", "1", 5)])
    async with hub.transaction() as uow:
        stale = await uow.run(WRITE_DRAFT, {  # type: ignore[attr-defined]
            "b_id": session.id, "b_rev": session.rev + 7, "b_items": [], "b_data": {}, "b_pricing": {},
            "b_pricing_trace": [], "b_new_rev": session.rev + 8, "b_now": session.updated_at})
        assert stale.rowcount == 0
        with pytest.raises(ResourceClosedError):  # an UPDATE without RETURNING has no rows to read
            stale.first()
    outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                          idempotency_key="K")
    async with hub.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT id, items_count FROM orders WHERE ref = :ref"),
                                           {"ref": outcome.result["order_ref"]})).one()
        assert tuple(stored) == (outcome.result["order_id"], 1)
        lines = (await connection.execute(text("SELECT sku, qty FROM order_items WHERE order_id = :id"),
                                          {"id": stored.id})).all()
        assert [(sku, Decimal(str(qty))) for sku, qty in lines] == [("A", Decimal(1))]


async def test_database_errors_are_raised_as_sqlalchemy_raises_them(hub: Hub, backend: str) -> None:
    code = await make_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code, session_key="S1")
    ref = "ORD-DIRECT-1"
    values = {"ref": ref, "channel_code": code, "session_key": "S1", "handle_type": None, "handle_ref": None,
              "external_ref": None, "status": "created", "currency": "BRL", "total_q": 0, "items_count": 0,
              "snapshot": {}, "created_at": session.opened_at, "updated_at": session.opened_at, "confirmed_at": None,
              "processing_at": None, "ready_at": None, "dispatched_at": None, "delivered_at": None,
              "completed_at": None, "cancelled_at": None}
    statement = insert(Order.__table__).returning(Order.__table__.c.id)  # type: ignore[attr-defined]
    async with hub.engine.connect() as connection:
        sent = _sent_by_statement_sets(connection)
        await sent.execute(statement, values)
        with pytest.raises(IntegrityError) as caught:
            await sent.execute(statement, values)
        if backend == "postgresql":
            assert caught.value.orig.sqlstate == "23505"  # type: ignore[union-attr]
        await connection.rollback()
        assert (await sent.execute(CHANNEL, {"code": code})).one().code == code
    if backend != "postgresql":
        return
    # The commit path relies on a lock wait reaching it as OperationalError with the driver's sqlstate.
    async with hub.engine.connect() as holder, hub.engine.connect() as waiter:
        await holder.execute(SESSION_CHANNEL_LOCKED, {"channel_code": code, "session_key": "S1"})
        await waiter.execute(text("SET lock_timeout = 50"))
        with pytest.raises(OperationalError) as caught:
            await DirectConnection(waiter).execute(SESSION_CHANNEL_LOCKED, {"channel_code": code, "session_key": "S1"})
        assert caught.value.orig.sqlstate == LOCK_NOT_AVAILABLE  # type: ignore[union-attr]
        await waiter.rollback()
        await holder.rollback()


@pytest.mark.parametrize("accelerate", [True, False])
async def test_without_the_accelerator_every_statement_goes_through_sqlalchemy(
    database_url: str, backend: str, accelerate: bool
) -> None:
    """With `accelerate` off, engine listeners (statement counters, tracing) see the statement sets' statements; with
    it on, PostgreSQL's are sent by psycopg directly, past SQLAlchemy's engine events."""
    hub = Hub.create(Settings(database_url=database_url, redis_url=None, accelerate=accelerate))
    try:
        assert hub.database.direct == (accelerate and backend == "postgresql")
        code = await make_channel(hub)
        seen: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
            seen.append(statement)

        event.listen(hub.engine.sync_engine, "before_cursor_execute", record)
        try:
            async with hub.transaction(readonly=True) as uow:
                assert (await uow.sessions.channel(code)).code == code
        finally:
            event.remove(hub.engine.sync_engine, "before_cursor_execute", record)
        assert len([s for s in seen if "channels" in s]) == (0 if hub.database.direct else 1)
    finally:
        await hub.dispose()


async def test_statements_sqlalchemy_must_prepare_are_left_to_it(hub: Hub, backend: str) -> None:
    """Expanding parameters, and INSERTs leaving out a column with a Python-side default, take SQLAlchemy's path."""
    if backend != "postgresql":
        pytest.skip("pg_direct plans statements for PostgreSQL only")
    async with hub.engine.connect() as connection:
        assert plan_of(_PRICES, ("skus", "channel_code", "price_list"), connection.dialect) is None
        orders = Order.__table__  # type: ignore[attr-defined]
        assert plan_of(insert(orders), ("ref", "status"), connection.dialect) is None  # items_count
        assert plan_of(CHANNEL, ("code",), connection.dialect) is not None
        assert (await DirectConnection(connection).execute(_PRICES, {"skus": ["nothing"], "channel_code": "pos",
                                                                     "price_list": ""})).all() == []


class _RolledBack(Exception):
    pass


async def test_one_statement_order_writes_what_the_one_by_one_inserts_write(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL writes an order with lines and its one event in one statement: the same rows (lines in their
    order, with their ids in that order) and the same announcements as the INSERTs one by one (SQLite's way)."""
    code = await make_channel(hub)
    await catalog.set_prices(hub, prices=[{"sku": s, "unit_price_q": p} for s, p in (("A", 125), ("B", 7), ("C", 1))])
    session = await open_with_items(hub, code, [("C", "1", None), ("A", "2.5", None), ("B", "3", None)])
    written = []
    for one_by_one in (False, True):
        if one_by_one:  # the path of SQLite, of orders without lines and of price overrides
            monkeypatch.setattr(order_statements, "in_one_statement", lambda *_args: False)
        with pytest.raises(_RolledBack):
            async with hub.transaction() as uow:
                found = await uow.sessions.read(code, session.session_key, lock=False)
                assert found is not None
                order = await ordering.create_order(uow, channel=found[1], session=found[0], actor="tester")
                items = (await uow.execute(text(
                    "SELECT id, line_id, sku, name, qty, unit_price_q, line_total_q, meta FROM order_items "
                    "WHERE order_id = :id ORDER BY id"), {"id": order.id})).all()
                events = (await uow.execute(text(
                    "SELECT id, channel_code, type, actor, payload FROM order_events WHERE order_id = :id"),
                    {"id": order.id})).all()
                stored = (await uow.execute(text("SELECT status, total_q, items_count, snapshot FROM orders "
                                                 "WHERE id = :id"), {"id": order.id})).one()
                assert [message["event_id"] for _, message in uow.messages] == [event.id for event in events]
                messages = [(topic, {k: v for k, v in message.items()
                                     if k not in ("event_id", "order_id", "order_ref")})
                            for topic, message in uow.messages]
                written.append(([tuple(row)[1:] for row in items], [tuple(row)[1:] for row in events],
                                tuple(stored), messages))
                assert [row.id for row in items] == sorted(row.id for row in items)
                raise _RolledBack
    assert written[0] == written[1]
    assert [row[1] for row in written[0][0]] == ["C", "A", "B"]  # the session's line order

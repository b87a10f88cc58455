"""pg_direct on PostgreSQL sends a statement on a psycopg cursor: the same parameters as SQLAlchemy's execution
(literals processed once), psycopg's own prepared statements, and lost connections, closed connections and
cancelled statements ending as they do on SQLAlchemy's path."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import bindparam, event, select, text
from sqlalchemy.exc import OperationalError

from omniman_gql.infra.pg_direct import DirectConnection, plan_of
from omniman_gql.infra.statements.commits import _SEAL_AND_READ
from omniman_gql.infra.statements.sessions import CHANNEL, SESSION_CHANNEL, SESSION_CHANNEL_LOCKED, WRITE_DRAFT
from omniman_gql.models import Channel
from omniman_gql.runtime import Hub
from omniman_gql.services import sessions
from tests.factories import make_channel

pytestmark = pytest.mark.anyio

_CHANNELS = Channel.__table__  # type: ignore[attr-defined]


@pytest.fixture
def pg(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("pg_direct sends statements itself on PostgreSQL only")


def _driver(connection: Any) -> Any:
    return connection.sync_connection.connection.driver_connection


async def _read_channel(connection: Any, code: str, *, direct: bool) -> Any:
    """The channel's row read by pg_direct (`direct`) or by SQLAlchemy's own execution."""
    if direct:
        return await DirectConnection(connection).execute(CHANNEL, {"code": code})
    return await connection.execute(CHANNEL, {"code": code})


async def _sqlalchemys_parameters(connection: Any, statement: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The parameters SQLAlchemy's execution hands psycopg for `statement` with `values` (run, then rolled back)."""
    sent: list[dict[str, Any]] = []

    def record(_conn: object, _cursor: object, _statement: str, parameters: Any, *_rest: object) -> None:
        sent.append(parameters)

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        await connection.execute(statement, values)
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)
        await connection.rollback()
    (parameters,) = sent
    return parameters


async def test_the_arguments_are_sqlalchemys_parameters(hub: Hub, pg: None) -> None:
    """Literals of the statement (state = 'open', set_config's name) are processed once; the callers' values go
    through their binds' processors on every call, as SQLAlchemy's execution context does."""
    code = await make_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code, session_key="S1")
    async with hub.engine.connect() as connection:
        seal = {"b_channel_code": code, "b_session_key": "S1", "b_now": session.opened_at, "b_token": "T",
                "b_wait_ms": "10000"}
        draft = {"b_id": session.id, "b_rev": 0, "b_items": [{"sku": "A"}], "b_data": {"k": [1]}, "b_pricing": {},
                 "b_pricing_trace": [], "b_new_rev": 1, "b_now": session.opened_at}
        for statement, values in ((_SEAL_AND_READ, seal), (WRITE_DRAFT, draft)):
            plan = plan_of(statement, tuple(values), connection.dialect)
            assert plan is not None
            sent, expected = plan.parameters(values), await _sqlalchemys_parameters(connection, statement, values)
            assert sorted(sent) == sorted(expected)
            assert [type(sent[name]) for name in expected] == [type(value) for value in expected.values()]
            assert [getattr(sent[name], "obj", sent[name]) for name in expected] == [  # Json wrappers
                getattr(value, "obj", value) for value in expected.values()]
        plan = plan_of(_SEAL_AND_READ, tuple(seal), connection.dialect)
        assert plan is not None
        assert {name: value for name, key, value in plan.binds if key is None} == {
            "open_handle": None, "state": "committed", "state_1": "open", "set_config_2": "lock_timeout",
            "set_config_3": True}


async def test_a_bind_with_a_callable_is_asked_on_every_call(hub: Hub, pg: None) -> None:
    codes = [await make_channel(hub), await make_channel(hub)]
    asked = iter(codes)
    statement = select(_CHANNELS.c.code).where(_CHANNELS.c.code == bindparam("code", callable_=lambda: next(asked)))
    async with hub.engine.connect() as connection:
        assert plan_of(statement, (), connection.dialect) is None  # SQLAlchemy asks the callable
        direct = DirectConnection(connection)
        assert [(await direct.execute(statement, {})).scalar_one() for _ in codes] == codes
        await connection.rollback()


def _prepared_query(rows: list[Any]) -> list[str]:
    return sorted(name for name, statement in rows if "FROM sessions JOIN channels" in statement)


async def test_statements_are_prepared_as_psycopg_prepares_them(hub: Hub, pg: None) -> None:
    """After psycopg's prepare_threshold runs, a statement runs as the connection's prepared statement, shared with
    SQLAlchemy's path (which finds it prepared already); a ROLLBACK, which drops them all, leaves pg_direct
    working."""
    code = await make_channel(hub)
    await sessions.open_session(hub, channel_code=code, session_key="S1")
    keys = {"channel_code": code, "session_key": "S1"}
    prepared = text("SELECT name, statement FROM pg_prepared_statements")
    async with hub.engine.connect() as connection:
        direct = DirectConnection(connection)
        threshold = _driver(connection).prepare_threshold
        assert threshold is not None
        for _ in range(threshold + 1):
            assert (await direct.execute(SESSION_CHANNEL, keys)).one().code == code
        names = _prepared_query((await connection.execute(prepared)).all())
        assert names != []
        slow = (await connection.execute(SESSION_CHANNEL, keys)).all()
        assert (await direct.execute(SESSION_CHANNEL, keys)).all() == slow
        assert _prepared_query((await connection.execute(prepared)).all()) == names  # none prepared again
        await connection.rollback()  # psycopg deallocates every prepared statement
        for _ in range(threshold + 1):
            assert (await direct.execute(SESSION_CHANNEL, keys)).one().code == code
        await connection.rollback()


async def test_a_lost_connection_is_invalidated_as_sqlalchemy_does(hub: Hub, pg: None) -> None:
    code = await make_channel(hub)
    outcomes = []
    for direct in (False, True):
        async with hub.engine.connect() as killer, hub.engine.connect() as victim:
            assert (await DirectConnection(victim).execute(CHANNEL, {"code": code})).one().code == code
            await killer.execute(text("SELECT pg_terminate_backend(:pid)"),
                                 {"pid": _driver(victim).info.backend_pid})
            with pytest.raises(OperationalError) as caught:
                await _read_channel(victim, code, direct=direct)
            outcomes.append((type(caught.value.orig), caught.value.connection_invalidated, victim.invalidated))
            await killer.rollback()
    assert outcomes[0] == outcomes[1] and outcomes[1][1:] == (True, True)


async def test_a_closed_driver_connection_fails_as_on_sqlalchemys_path(hub: Hub, pg: None) -> None:
    code = await make_channel(hub)
    outcomes = []
    for direct in (False, True):
        async with hub.engine.connect() as connection:
            await connection.commit()
            await _driver(connection).close()
            with pytest.raises(OperationalError) as caught:
                await _read_channel(connection, code, direct=direct)
            outcomes.append((str(caught.value.orig), caught.value.connection_invalidated, connection.invalidated))
    assert outcomes[0] == outcomes[1] == ("the connection is closed", True, True)


async def test_a_cancelled_statement_is_cancelled_on_the_server(hub: Hub, pg: None) -> None:
    """A use case cancelled while its statement waits for a lock: psycopg cancels the statement on the server
    (the connection's transaction fails, the lock wait ends) and the task ends cancelled, as on the cursor's path."""
    code = await make_channel(hub)
    await sessions.open_session(hub, channel_code=code, session_key="S1")
    keys = {"channel_code": code, "session_key": "S1"}
    async with hub.engine.connect() as holder, hub.engine.connect() as waiter:
        await holder.execute(SESSION_CHANNEL_LOCKED, keys)
        await waiter.begin()  # as a use case's transaction: its rollback reaches the driver
        pid = _driver(waiter).info.backend_pid
        direct = DirectConnection(waiter)
        waiting = asyncio.ensure_future(direct.execute(SESSION_CHANNEL_LOCKED, keys))
        query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
        while (await holder.execute(query, {"pid": pid})).scalar_one() != "Lock":
            await asyncio.sleep(0)  # the waiter's statement is on its way to the lock: let it get there
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (await holder.execute(query, {"pid": pid})).scalar_one() != "Lock"
        await waiter.rollback()
        await holder.rollback()
        assert (await direct.execute(SESSION_CHANNEL_LOCKED, keys)).one().code == code
        await waiter.rollback()


async def test_an_autocommit_block_ends_with_no_transaction_anywhere(hub: Hub, pg: None) -> None:
    """An autocommit unit whose statements all went by pg_direct has no SQLAlchemy transaction to commit (it skips
    that no-op); one that ran a statement through SQLAlchemy still has its transaction ended."""
    code = await make_channel(hub)
    for direct in (True, False):
        async with hub.transaction(autocommit=True) as uow:
            connection = uow.connection  # type: ignore[attr-defined]
            if direct:
                assert (await DirectConnection(connection).execute(CHANNEL, {"code": code})).one().code == code
                assert not connection.in_transaction()
            else:
                assert (await uow.execute(CHANNEL, {"code": code})).one().code == code
                assert connection.in_transaction()
        assert not connection.closed and not connection.in_transaction()  # parked, clean
        assert _driver(connection).pgconn.transaction_status == TransactionStatus.IDLE

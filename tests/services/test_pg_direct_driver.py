"""pg_direct on PostgreSQL sends a statement on psycopg's connection without a cursor: the same parameters as
SQLAlchemy's execution (literals processed once), the same server-side prepared statements as psycopg's cursors,
and lost connections, closed connections and cancelled statements ending as they do on SQLAlchemy's path."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError

from psycopg.pq import TransactionStatus

from omniman_gql.infra import pg_direct
from omniman_gql.models import Channel
from omniman_gql.runtime import Hub
from omniman_gql.services import commit, sessions
from omniman_gql.services.common import _CHANNEL_CORE, _SESSION_CHANNEL, _SESSION_CHANNEL_LOCKED
from omniman_gql.services.sessions import _WRITE_DRAFT
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
    run = pg_direct.execute if direct else type(connection).execute
    return await run(connection, _CHANNEL_CORE, {"code": code})


def _sent_arguments(connection: Any, statement: Any, values: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """What the plan sends for `values` (placeholders in order) and what SQLAlchemy's parameters would be."""
    plan = pg_direct._plan_of(statement, tuple(values), connection.dialect)
    assert plan is not None
    _query, names, _formats = plan.convert("utf-8")
    expected = plan.parameters(values)
    return plan.arguments(values, names), [expected[name] for name in names]


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
        for statement, values in ((commit._SEAL_AND_READ, seal), (_WRITE_DRAFT, draft)):
            sent, expected = _sent_arguments(connection, statement, values)
            assert [type(value) for value in sent] == [type(value) for value in expected]
            assert [getattr(v, "obj", v) for v in sent] == [getattr(v, "obj", v) for v in expected]  # Json wrappers
        plan = pg_direct._plan_of(commit._SEAL_AND_READ, tuple(seal), connection.dialect)
        assert plan is not None and plan.sources is not None
        assert {name: source for name, source in plan.sources.items() if source[0] is None} == {
            "open_handle": (None, None), "state": (None, "committed"), "state_1": (None, "open"),
            "set_config_2": (None, "lock_timeout"), "set_config_3": (None, True)}


async def test_a_bind_with_a_callable_is_asked_on_every_call(hub: Hub, pg: None) -> None:
    codes = [await make_channel(hub), await make_channel(hub)]
    asked = iter(codes)
    statement = select(_CHANNELS.c.code).where(_CHANNELS.c.code == bindparam("code", callable_=lambda: next(asked)))
    async with hub.engine.connect() as connection:
        assert pg_direct._plan_of(statement, (), connection.dialect).sources is None  # type: ignore[union-attr]
        assert [(await pg_direct.execute(connection, statement, {})).scalar_one() for _ in codes] == codes
        await connection.rollback()


async def test_statements_are_prepared_as_psycopg_prepares_them(hub: Hub, pg: None) -> None:
    """After psycopg's prepare_threshold runs, a statement runs as the connection's prepared statement, on
    psycopg's own names and cache (SQLAlchemy's path then runs the same one); a ROLLBACK, which drops them all,
    leaves pg_direct working."""
    code = await make_channel(hub)
    await sessions.open_session(hub, channel_code=code, session_key="S1")
    keys = {"channel_code": code, "session_key": "S1"}
    async with hub.engine.connect() as connection:
        driver = _driver(connection)
        threshold = driver.prepare_threshold
        assert threshold is not None
        for _ in range(threshold + 1):
            assert (await pg_direct.execute(connection, _SESSION_CHANNEL, keys)).one().code == code
        prepared = (await connection.execute(text("SELECT name, statement FROM pg_prepared_statements"))).all()
        assert [name for name, statement in prepared if "FROM sessions JOIN channels" in statement] != []
        names = dict(driver._prepared._names)
        slow = (await connection.execute(_SESSION_CHANNEL, keys)).all()
        assert (await pg_direct.execute(connection, _SESSION_CHANNEL, keys)).all() == slow
        assert dict(driver._prepared._names) == names  # the cursor found the statement prepared already
        await connection.rollback()  # psycopg deallocates every prepared statement
        for _ in range(threshold + 1):
            assert (await pg_direct.execute(connection, _SESSION_CHANNEL, keys)).one().code == code
        await connection.rollback()


async def test_a_lost_connection_is_invalidated_as_sqlalchemy_does(hub: Hub, pg: None) -> None:
    code = await make_channel(hub)
    outcomes = []
    for direct in (False, True):
        async with hub.engine.connect() as killer, hub.engine.connect() as victim:
            assert (await pg_direct.execute(victim, _CHANNEL_CORE, {"code": code})).one().code == code
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
        await holder.execute(_SESSION_CHANNEL_LOCKED, keys)
        await waiter.begin()  # as a use case's transaction: its rollback reaches the driver
        pid = _driver(waiter).info.backend_pid
        waiting = asyncio.ensure_future(pg_direct.execute(waiter, _SESSION_CHANNEL_LOCKED, keys))
        query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
        while (await holder.execute(query, {"pid": pid})).scalar_one() != "Lock":
            await asyncio.sleep(0)  # the waiter's statement is on its way to the lock: let it get there
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (await holder.execute(query, {"pid": pid})).scalar_one() != "Lock"
        await waiter.rollback()
        await holder.rollback()
        assert (await pg_direct.execute(waiter, _SESSION_CHANNEL_LOCKED, keys)).one().code == code
        await waiter.rollback()


async def test_an_autocommit_block_ends_with_no_transaction_anywhere(hub: Hub, pg: None) -> None:
    """An autocommit block whose statements all went by pg_direct has no SQLAlchemy transaction to commit (it skips
    that no-op); one that ran a statement through SQLAlchemy still has its transaction ended."""
    code = await make_channel(hub)
    for direct in (True, False):
        async with hub.autocommit() as uow:
            connection = uow.db
            if direct:
                assert (await pg_direct.execute(connection, _CHANNEL_CORE, {"code": code})).one().code == code
                assert not connection.in_transaction()
            else:
                assert (await connection.execute(_CHANNEL_CORE, {"code": code})).one().code == code
                assert connection.in_transaction()
        assert not connection.closed and not connection.in_transaction()  # parked, clean
        assert _driver(connection).pgconn.transaction_status == TransactionStatus.IDLE

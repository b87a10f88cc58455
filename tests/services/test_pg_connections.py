"""PostgreSQL: units of work reuse a parked connection only when the last one left it clean, park no more connections
than the pool's size, give them back at disposal, and no more than `database_max_active` of them run at once in a
process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from omniman_gql.infra.db import create_engine, create_session_factory
from omniman_gql.infra.units import Database
from omniman_gql.runtime import Hub
from omniman_gql.services import sessions
from tests.factories import make_channel

pytestmark = pytest.mark.anyio


@pytest.fixture
def pg(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("connections are parked on PostgreSQL only")


def _raw(connection: object) -> object:
    return connection.sync_connection.connection.driver_connection  # type: ignore[attr-defined]


async def test_a_clean_connection_is_reused_by_the_next_use_case(hub: Hub, pg: None) -> None:
    async with hub.transaction() as uow:
        first = uow.connection  # type: ignore[attr-defined]
    async with hub.transaction(autocommit=True) as uow:
        assert uow.connection is first  # type: ignore[attr-defined]
        assert _raw(first).autocommit  # type: ignore[attr-defined]
    async with hub.transaction() as uow:
        assert uow.connection is first  # type: ignore[attr-defined]
        assert not _raw(first).autocommit  # type: ignore[attr-defined]


async def test_a_transaction_after_an_autocommit_block_still_rolls_back(hub: Hub, pg: None) -> None:
    code = await make_channel(hub)
    async with hub.transaction(autocommit=True) as uow:
        await uow.execute(text("SELECT 1"))
    with pytest.raises(RuntimeError):
        async with hub.transaction() as uow:
            await uow.execute(text("UPDATE channels SET name = 'changed' WHERE code = :code"), {"code": code})
            raise RuntimeError("use case failed")
    async with hub.transaction(autocommit=True) as uow:
        name = (await uow.execute(text("SELECT name FROM channels WHERE code = :code"), {"code": code})).scalar_one()
    assert name != "changed"


async def test_a_use_case_that_failed_does_not_park_its_connection(hub: Hub, pg: None) -> None:
    with pytest.raises(RuntimeError):
        async with hub.transaction() as uow:
            failed = uow.connection  # type: ignore[attr-defined]
            raise RuntimeError("use case failed")
    assert failed.closed  # back to the pool, which resets it
    with pytest.raises(RuntimeError):
        async with hub.transaction(autocommit=True) as uow:
            failed_too, driver = uow.connection, _raw(uow.connection)  # type: ignore[attr-defined]
            raise RuntimeError("use case failed")
    assert failed_too.closed and failed_too is not failed
    assert not driver.autocommit  # type: ignore[attr-defined]  # switched back before the pool had it
    async with hub.transaction() as uow:
        assert uow.connection is not failed_too  # type: ignore[attr-defined]


async def test_a_connection_left_in_a_transaction_is_not_parked(hub: Hub, pg: None) -> None:
    parked = hub.database.parked
    assert parked is not None
    connection = await parked.acquire()
    await connection.execute(text("SELECT 1"))  # SQLAlchemy began a transaction, still open
    await parked.release(connection, clean=True)
    assert connection.closed and parked.idle == 0


@pytest.fixture
async def small(hub: Hub, pg: None) -> AsyncIterator[Database]:
    """A database of its own keeping 2 connections, with as many turns as the test needs (set `turns`)."""
    settings = hub.settings.model_copy(update={"database_pool_size": 2, "database_max_active": 200})
    engine = create_engine(settings)
    database = Database(engine, create_session_factory(engine), settings)
    yield database
    await database.dispose()
    await engine.dispose()


def _with_turns(database: Database, turns: int) -> Database:
    from omniman_gql.infra.pg_connections import Turns

    database.turns = Turns(turns)
    return database


async def test_a_burst_beyond_the_pool_size_parks_no_more_than_the_pool_size(hub: Hub, pg: None) -> None:
    code = await make_channel(hub)
    size = hub.settings.database_pool_size
    _with_turns(hub.database, 3 * size)  # turns for the whole burst at once

    async def one(index: int) -> None:
        await sessions.open_session(hub, channel_code=code, session_key=f"k{index}")

    await asyncio.gather(*(one(i) for i in range(3 * size)))
    pool = hub.engine.sync_engine.pool
    parked = hub.database.parked
    assert parked is not None
    assert 0 < parked.idle <= size and pool.checkedin() <= size  # type: ignore[attr-defined]
    assert pool.checkedout() == parked.idle  # type: ignore[attr-defined]  # nothing else kept out
    kept = parked.idle
    await one(-1)  # the next use case reuses a parked connection
    assert parked.idle == kept and pool.checkedout() == kept  # type: ignore[attr-defined]
    await hub.dispose()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def _burst(database: Database, n: int) -> None:
    parked = database.parked
    assert parked is not None
    connections = await asyncio.gather(*(parked.acquire() for _ in range(n)))
    for connection in connections:
        await parked.release(connection, clean=True)


async def test_no_more_parked_connections_than_the_pool_size(small: Database) -> None:
    await _burst(small, 6)
    pool = small.engine.sync_engine.pool
    assert small.parked is not None
    assert small.parked.idle == 2 and pool.checkedin() <= 2  # type: ignore[attr-defined]
    assert pool.checkedout() == small.parked.idle  # type: ignore[attr-defined]


async def test_use_cases_waiting_for_a_full_pool_get_the_connections_others_are_done_with(small: Database) -> None:
    async def use_case() -> int:
        async with small.unit() as uow:
            await asyncio.sleep(0)  # hold it while the others queue up in the pool
            return int((await uow.execute(text("SELECT 1"))).scalar_one())

    count = 3 * small.engine.sync_engine.pool.size() * 5  # type: ignore[attr-defined]  # beyond size + overflow
    assert await asyncio.wait_for(asyncio.gather(*(use_case() for _ in range(count))), timeout=30) == [1] * count
    assert small.parked is not None
    assert small.engine.sync_engine.pool.checkedout() == small.parked.idle <= 2  # type: ignore[attr-defined]


async def test_the_hub_gives_its_use_cases_database_max_active_turns(hub: Hub, pg: None) -> None:
    turns = hub.database.turns
    assert turns is not None and turns.limit == hub.settings.database_max_active


async def test_no_more_use_cases_run_at_once_than_their_turns(small: Database) -> None:
    _with_turns(small, 3)
    running, most = 0, 0

    async def use_case() -> int:
        nonlocal running, most
        async with small.unit() as uow:
            running += 1
            most = max(most, running)
            for _ in range(3):  # hand the loop to the others while holding the turn
                await asyncio.sleep(0)
            value = int((await uow.execute(text("SELECT 1"))).scalar_one())
            running -= 1
            return value

    assert await asyncio.wait_for(asyncio.gather(*(use_case() for _ in range(12))), timeout=30) == [1] * 12
    assert most == 3  # three at once, never more
    assert small.parked is not None
    assert small.engine.sync_engine.pool.checkedout() == small.parked.idle <= 3  # type: ignore[attr-defined]


async def test_a_use_case_inside_another_takes_no_second_turn(small: Database) -> None:
    _with_turns(small, 1)

    async def nested() -> int:
        async with small.unit(), small.unit(autocommit=True) as inner:
            return int((await inner.execute(text("SELECT 2"))).scalar_one())

    assert await asyncio.wait_for(nested(), timeout=10) == 2  # waiting for its own turn would never end


async def test_a_use_case_cancelled_while_waiting_for_a_turn_takes_none_away(small: Database) -> None:
    _with_turns(small, 1)
    holding, done = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with small.unit(autocommit=True):
            holding.set()
            await done.wait()

    async def waiter() -> None:
        async with small.unit(autocommit=True):
            raise AssertionError("no turn was free")

    first = asyncio.create_task(holder())
    await holding.wait()
    second = asyncio.create_task(waiter())
    for _ in range(3):
        await asyncio.sleep(0)
    assert not second.done()  # waiting for the turn the holder has
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    done.set()
    await first

    async def after() -> int:
        async with small.unit(autocommit=True) as uow:
            return int((await uow.execute(text("SELECT 3"))).scalar_one())

    assert await asyncio.wait_for(after(), timeout=10) == 3


async def test_a_read_only_use_case_never_waits_for_a_turn(small: Database) -> None:
    _with_turns(small, 1)
    holding, done = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with small.unit():
            holding.set()
            await done.wait()

    first = asyncio.create_task(writer())
    await holding.wait()

    async def reader() -> int:
        async with small.unit(readonly=True) as uow:
            return int((await uow.execute(text("SELECT 4"))).scalar_one())

    assert await asyncio.wait_for(reader(), timeout=10) == 4  # while the only turn is held
    done.set()
    await first

"""PostgreSQL: the Hub's core transactions and autocommit blocks reuse a parked connection only when the last use
case left it clean, keep idle connections beyond the pool's size only for `database_linger_s` after their last use,
give them back at disposal, and let no more than `database_max_active` use cases of a process run at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from omniman_gql.infra.pg_connections import ParkedConnections
from omniman_gql.runtime import Hub
from omniman_gql.services import sessions
from tests.factories import make_channel

pytestmark = pytest.mark.anyio


@pytest.fixture
def pg(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("connections are parked on PostgreSQL only")


def _raw(uow_db: object) -> object:
    return uow_db.sync_connection.connection.driver_connection  # type: ignore[attr-defined]


async def test_a_clean_connection_is_reused_by_the_next_use_case(hub: Hub, pg: None) -> None:
    async with hub.core_transaction() as uow:
        first = uow.db
    async with hub.autocommit() as uow:
        assert uow.db is first
        assert _raw(first).autocommit  # type: ignore[attr-defined]
    async with hub.core_transaction() as uow:
        assert uow.db is first
        assert not _raw(first).autocommit  # type: ignore[attr-defined]


async def test_a_transaction_after_an_autocommit_block_still_rolls_back(hub: Hub, pg: None) -> None:
    code = await make_channel(hub)
    async with hub.autocommit() as uow:
        await uow.db.execute(text("SELECT 1"))
    with pytest.raises(RuntimeError):
        async with hub.core_transaction() as uow:
            await uow.db.execute(text("UPDATE channels SET name = 'changed' WHERE code = :code"), {"code": code})
            raise RuntimeError("use case failed")
    async with hub.autocommit() as uow:
        name = (await uow.db.execute(text("SELECT name FROM channels WHERE code = :code"), {"code": code})).scalar_one()
    assert name != "changed"


async def test_a_use_case_that_failed_does_not_park_its_connection(hub: Hub, pg: None) -> None:
    with pytest.raises(RuntimeError):
        async with hub.core_transaction() as uow:
            failed = uow.db
            raise RuntimeError("use case failed")
    assert failed.closed  # back to the pool, which resets it
    with pytest.raises(RuntimeError):
        async with hub.autocommit() as uow:
            failed_too, driver = uow.db, _raw(uow.db)
            raise RuntimeError("use case failed")
    assert failed_too.closed and failed_too is not failed
    assert not driver.autocommit  # type: ignore[attr-defined]  # switched back before the pool had it
    async with hub.core_transaction() as uow:
        assert uow.db is not failed_too


async def test_a_connection_left_in_a_transaction_is_not_parked(hub: Hub, pg: None) -> None:
    parked = hub._parked_connections()
    assert parked is not None
    connection = await parked.acquire()
    await connection.execute(text("SELECT 1"))  # SQLAlchemy began a transaction, still open
    await parked.release(connection, clean=True)
    assert connection.closed and parked._idle == []


async def test_a_burst_beyond_the_pool_size_lingers_then_shrinks_to_the_pool_size(hub: Hub, pg: None) -> None:
    code = await make_channel(hub)
    size = hub.settings.database_pool_size
    # Turns for the whole burst at once (the default lets only `database_max_active` use cases take a connection).
    hub._parked = ParkedConnections(hub.engine, keep=size, linger_s=hub.settings.database_linger_s,
                                    max_active=3 * size)

    async def one(index: int) -> None:
        await sessions.open_session(hub, channel_code=code, session_key=f"k{index}")

    await asyncio.gather(*(one(i) for i in range(3 * size)))
    pool = hub.engine.sync_engine.pool
    parked = hub._parked_connections()
    assert parked is not None
    assert parked.excess() > 0  # the burst's extra connections stay for the next burst…
    assert pool.checkedout() == len(parked._idle)  # type: ignore[attr-defined]  # nothing else kept out
    kept = len(parked._idle)
    await one(-1)  # …which reuses them instead of opening new ones
    assert len(parked._idle) == kept and pool.checkedout() == kept  # type: ignore[attr-defined]
    await parked.trim(time.monotonic() + hub.settings.database_linger_s)  # once they have lingered long enough
    assert parked.excess() == 0 and len(parked._idle) + pool.checkedin() == size  # type: ignore[attr-defined]
    await hub.dispose()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.fixture
async def two_kept(hub: Hub, pg: None) -> AsyncIterator[AsyncEngine]:
    """An engine of its own keeping 2 connections (as the Hub's engine keeps `database_pool_size`)."""
    engine = create_async_engine(hub.settings.async_database_url, pool_size=2, max_overflow=8)
    yield engine
    await engine.dispose()


async def _burst(parked: ParkedConnections, n: int) -> None:
    connections = await asyncio.gather(*(parked.acquire() for _ in range(n)))
    for connection in connections:
        await parked.release(connection, clean=True)


async def test_without_linger_no_more_idle_connections_than_the_pool_size(two_kept: AsyncEngine) -> None:
    parked = ParkedConnections(two_kept, keep=2, linger_s=0)
    await _burst(parked, 6)
    pool = two_kept.sync_engine.pool
    assert len(parked._idle) + pool.checkedin() == 2 and parked._trimmer is None  # type: ignore[attr-defined]
    assert pool.checkedout() == len(parked._idle)  # type: ignore[attr-defined]
    await parked.close()


async def test_use_cases_waiting_for_a_full_pool_get_the_connections_others_are_done_with(hub: Hub, pg: None) -> None:
    engine = create_async_engine(hub.settings.async_database_url, pool_size=2, max_overflow=2, pool_timeout=10)
    parked = ParkedConnections(engine, keep=2, linger_s=30)

    async def use_case() -> int:
        async with parked.core_transaction() as uow:
            await asyncio.sleep(0)  # hold it while the others queue up in the pool
            return int((await uow.db.execute(text("SELECT 1"))).scalar_one())

    try:
        assert await asyncio.wait_for(asyncio.gather(*(use_case() for _ in range(20))), timeout=30) == [1] * 20
        assert engine.sync_engine.pool.checkedout() == len(parked._idle) <= 4  # type: ignore[attr-defined]
    finally:
        await parked.close()
        await engine.dispose()


async def test_an_idle_process_goes_back_to_the_pool_size_by_itself(two_kept: AsyncEngine) -> None:
    parked = ParkedConnections(two_kept, keep=2, linger_s=0.05)
    await _burst(parked, 6)
    assert parked.excess() > 0 and parked._trimmer is not None  # nothing else will come by to trim them
    await asyncio.wait_for(parked._trimmer, timeout=10)
    assert parked.excess() == 0 and two_kept.sync_engine.pool.checkedout() == len(parked._idle)  # type: ignore[attr-defined]
    await parked.close()
    assert parked._idle == []


async def test_the_hub_gives_its_use_cases_database_max_active_turns(hub: Hub, pg: None) -> None:
    parked = hub._parked_connections()
    assert parked is not None and parked._max_active == hub.settings.database_max_active


async def test_no_more_use_cases_run_at_once_than_their_turns(two_kept: AsyncEngine) -> None:
    parked = ParkedConnections(two_kept, keep=2, linger_s=0, max_active=3)
    running, most = 0, 0

    async def use_case() -> int:
        nonlocal running, most
        async with parked.core_transaction() as uow:
            running += 1
            most = max(most, running)
            for _ in range(3):  # hand the loop to the others while holding the turn
                await asyncio.sleep(0)
            value = int((await uow.db.execute(text("SELECT 1"))).scalar_one())
            running -= 1
            return value

    try:
        assert await asyncio.wait_for(asyncio.gather(*(use_case() for _ in range(12))), timeout=30) == [1] * 12
        assert most == 3  # three at once, never more
        assert two_kept.sync_engine.pool.checkedout() == len(parked._idle) <= 3  # type: ignore[attr-defined]
    finally:
        await parked.close()


async def test_a_use_case_inside_another_takes_no_second_turn(two_kept: AsyncEngine) -> None:
    parked = ParkedConnections(two_kept, keep=2, linger_s=0, max_active=1)

    async def nested() -> int:
        async with parked.core_transaction(), parked.autocommit() as inner:
            return int((await inner.db.execute(text("SELECT 2"))).scalar_one())

    try:
        assert await asyncio.wait_for(nested(), timeout=10) == 2  # waiting for its own turn would never end
    finally:
        await parked.close()


async def test_a_use_case_cancelled_while_waiting_for_a_turn_takes_none_away(two_kept: AsyncEngine) -> None:
    parked = ParkedConnections(two_kept, keep=2, linger_s=0, max_active=1)
    holding, done = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with parked.autocommit():
            holding.set()
            await done.wait()

    async def waiter() -> None:
        async with parked.autocommit():
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
        async with parked.autocommit() as uow:
            return int((await uow.db.execute(text("SELECT 3"))).scalar_one())

    try:
        assert await asyncio.wait_for(after(), timeout=10) == 3
    finally:
        await parked.close()

"""PostgreSQL: the Hub's core transactions and autocommit blocks reuse a parked connection only when the last use
case left it clean, never keep more idle connections than the pool's size, and give them back at disposal."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

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


async def test_no_more_idle_connections_than_the_pool_size(hub: Hub, pg: None) -> None:
    code = await make_channel(hub)
    size = hub.settings.database_pool_size

    async def one(index: int) -> None:
        await sessions.open_session(hub, channel_code=code, session_key=f"k{index}")

    await asyncio.gather(*(one(i) for i in range(3 * size)))
    pool = hub.engine.sync_engine.pool
    parked = hub._parked_connections()
    assert parked is not None
    assert len(parked._idle) + pool.checkedin() <= size  # type: ignore[attr-defined]
    assert pool.checkedout() == len(parked._idle)  # type: ignore[attr-defined]  # nothing else kept out
    await one(-1)  # once the burst is over, use cases park their connection again
    await one(-2)
    assert len(parked._idle) == 1 and len(parked._idle) + pool.checkedin() <= size  # type: ignore[attr-defined]
    await hub.dispose()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]

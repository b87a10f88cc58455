"""The SQLite engine both ways (`OMNIMAN_ACCELERATE`): stock SQLAlchemy + aiosqlite when off, the accelerator when on,
set up alike (WAL, foreign keys, BEGIN IMMEDIATE for writers) and failing alike."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import column, event, insert, table, text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, SQLiteDialect_aiosqlite
from sqlalchemy.exc import IntegrityError

from omniman_gql.infra import sqlite_driver
from omniman_gql.infra.sqlite_driver import LoopConnection
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def sqlite_path(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "omniman.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture(params=[True, False], ids=["accelerated", "stock"])
async def hub(request: pytest.FixtureRequest, sqlite_path: Path) -> AsyncIterator[Hub]:
    hub = Hub.create(Settings(database_url=f"sqlite:///{sqlite_path}", redis_url=None, accelerate=request.param))
    try:
        yield hub
    finally:
        await hub.dispose()


async def connection_types(hub: Hub) -> tuple[type, type]:
    """The classes of a pooled connection: SQLAlchemy's DBAPI adapter and the driver connection under it."""
    async with hub.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        return type(raw.dbapi_connection), type(raw.driver_connection)


async def test_accelerate_off_is_sqlalchemys_stock_aiosqlite_dialect_on_stock_aiosqlite(sqlite_path: Path) -> None:
    hub = Hub.create(Settings(database_url=f"sqlite:///{sqlite_path}", redis_url=None, accelerate=False))
    try:
        assert type(hub.engine.dialect) is SQLiteDialect_aiosqlite
        assert await connection_types(hub) == (AsyncAdapt_aiosqlite_connection, aiosqlite.Connection)
    finally:
        await hub.dispose()


async def test_accelerate_on_hands_sqlalchemys_own_aiosqlite_adapter_a_loop_connection(sqlite_path: Path) -> None:
    hub = Hub.create(Settings(database_url=f"sqlite:///{sqlite_path}", redis_url=None, accelerate=True))
    try:
        # The dialect and its adapter stay SQLAlchemy's own, not subclasses: only the driver connection is ours.
        assert type(hub.engine.dialect) is SQLiteDialect_aiosqlite
        assert await connection_types(hub) == (AsyncAdapt_aiosqlite_connection, LoopConnection)
    finally:
        await hub.dispose()


@pytest.mark.parametrize(("value", "driver"), [("false", aiosqlite.Connection), ("true", LoopConnection)])
async def test_omniman_accelerate_in_the_environment_picks_the_engine(
    value: str, driver: type, sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIMAN_ACCELERATE", value)
    hub = Hub.create(Settings(database_url=f"sqlite:///{sqlite_path}", redis_url=None))
    try:
        assert (await connection_types(hub))[1] is driver
    finally:
        await hub.dispose()


async def test_statements_run_on_the_loops_thread_only_when_accelerated(hub: Hub) -> None:
    threads: list[int] = []

    @event.listens_for(hub.engine.sync_engine, "connect")
    def _trace(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.run_async(lambda driver: driver.set_trace_callback(lambda _sql: threads.append(
            threading.get_ident())))

    async with hub.transaction(readonly=True) as uow:
        await uow.execute(text("SELECT 1"))
    assert threads
    on_the_loop = {ident == threading.get_ident() for ident in threads}
    assert on_the_loop == {hub.settings.accelerate}


async def test_connections_are_in_wal_with_foreign_keys_and_leave_begin_to_the_engine(hub: Hub) -> None:
    async with hub.engine.connect() as connection:
        pragmas = [(await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                   for name in ("journal_mode", "foreign_keys", "synchronous")]
        isolation_level = (await connection.get_raw_connection()).dbapi_connection.isolation_level
    assert pragmas == ["wal", 1, 1]  # synchronous 1 = NORMAL
    assert isolation_level is None  # sqlite3 sends no BEGIN of its own


async def test_a_write_transaction_holds_the_write_lock_from_its_begin_and_a_read_does_not(
    hub: Hub, sqlite_path: Path
) -> None:
    other = sqlite3.connect(sqlite_path, timeout=0, isolation_level=None)
    try:
        async with hub.transaction(readonly=True):
            other.execute("BEGIN IMMEDIATE")  # a reader's deferred BEGIN leaves the write lock free
            other.execute("ROLLBACK")
        async with hub.transaction():  # BEGIN IMMEDIATE, before any statement
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # committed: free again
        other.execute("ROLLBACK")
    finally:
        other.close()


PROBE = table("probe", column("key"))


@pytest.fixture
def probe(sqlite_path: Path) -> None:
    with sqlite3.connect(sqlite_path) as setup:
        setup.execute("CREATE TABLE probe (key TEXT PRIMARY KEY)")


async def test_autocommit_statements_commit_each_by_itself(hub: Hub, sqlite_path: Path, probe: None) -> None:
    async with hub.transaction(autocommit=True) as uow:
        await uow.execute(insert(PROBE).values(key="auto"))
        # No BEGIN was sent: another connection sees the row before the block ends.
        other = sqlite3.connect(sqlite_path, timeout=0)
        try:
            assert other.execute("SELECT key FROM probe").fetchall() == [("auto",)]
        finally:
            other.close()


async def test_a_constraint_violation_is_sqlalchemys_integrity_error_and_the_engine_goes_on(
    hub: Hub, probe: None
) -> None:
    async with hub.transaction() as uow:
        await uow.execute(insert(PROBE).values(key="dup"))
    with pytest.raises(IntegrityError, match="UNIQUE constraint failed"):
        async with hub.transaction() as uow:
            await uow.execute(insert(PROBE).values(key="dup"))
    async with hub.transaction(readonly=True) as uow:
        assert (await uow.execute(text("SELECT count(*) FROM probe"))).scalar_one() == 1


async def test_concurrent_units_of_work_on_one_engine_each_get_their_own_connection(hub: Hub) -> None:
    async def count_channels() -> int:
        async with hub.transaction(readonly=True) as uow:
            await asyncio.sleep(0)  # the others start meanwhile
            return int((await uow.execute(text("SELECT count(*) FROM channels"))).scalar_one())

    assert await asyncio.gather(*[count_channels() for _ in range(40)]) == [0] * 40


async def test_the_accelerator_waits_on_its_thread_only_for_a_lock_then_runs_on_the_loop_with_no_busy_timeout(
    sqlite_path: Path,
) -> None:
    """Accelerator internals: a connection starts its thread only when a call meets a lock held elsewhere, the call
    waits there with the busy timeout, and the next call runs on the loop again, with the busy timeout back at 0."""
    connection = await sqlite_driver.connect(str(sqlite_path), busy_timeout_ms=60_000)
    other = sqlite3.connect(sqlite_path, timeout=0, isolation_level=None)
    try:
        await (await connection.cursor().execute("SELECT 1")).fetchall()
        assert connection._thread is None
        other.execute("BEGIN IMMEDIATE")
        begin = asyncio.create_task(connection.cursor().execute("BEGIN IMMEDIATE"))
        await asyncio.sleep(0)  # the task tries on the loop, meets the lock and hands the call to the thread
        assert connection._thread is not None and not begin.done()
        other.execute("COMMIT")
        await begin
        assert await (await connection.cursor().execute("PRAGMA busy_timeout")).fetchall() == [(0,)]
        await connection.rollback()
    finally:
        other.close()
        await connection.close()
    assert connection._thread is not None
    connection._thread.join(5)
    assert not connection._thread.is_alive()

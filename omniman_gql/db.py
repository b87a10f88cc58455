"""Engines, sessions and the unit of work: one transaction per use case, with after-commit hooks."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import event, insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .settings import Settings

log = logging.getLogger(__name__)

READONLY = "omniman_readonly"
AUTOCOMMIT = "omniman_autocommit"  # SQLite: no BEGIN at all, each statement is its own transaction


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    """An async engine for the configured database, tuned for concurrent writers."""
    url = settings.async_database_url
    if url.startswith("sqlite"):
        probe = create_async_engine(url)  # no connection made: only to read the driver's arguments from the URL
        args, connect_kwargs = probe.dialect.create_connect_args(probe.url)
        engine = create_async_engine(url, pool_size=8, max_overflow=56, pool_timeout=60,
                                     async_creator=partial(_connect_sqlite, *args, **connect_kwargs), **kwargs)
        _tune_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size * 4,
        pool_pre_ping=False,
        **kwargs,
    )


class _SqliteConnection(aiosqlite.Connection):
    """aiosqlite's connection, made safe for connections cancelled mid-statement (a websocket closed during its
    subscription's read). SQLAlchemy then terminates the connection: a graceful close() in a shielded task and, the
    caller being cancelled, a stop() of the worker thread at once. Stock aiosqlite then (1) waits forever in close()
    for the stopped thread, a task that hung the event loop's shutdown, and (2) lets the thread, still finishing the
    cancelled statement, post its last result to a loop that may have closed by then."""

    async def close(self) -> None:
        if self._connection is None or not self._running:
            return  # closed, or stopping: the thread closes the sqlite3 connection as it ends
        try:
            await self._execute(self._conn.close)
        finally:
            self._connection = None
            if self._running:  # else a terminate stopped the thread meanwhile
                stopped = self.stop()
                if stopped is not None:
                    await stopped

    def stop(self) -> asyncio.Future[Any] | None:
        stopped = super().stop()
        if stopped is not None:
            # The loop's shutdown waits for its default executor: joining the thread there keeps the loop open until
            # the thread has posted its last result.
            stopped.get_loop().run_in_executor(None, self._thread.join)
        return stopped


async def _connect_sqlite(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    connection = _SqliteConnection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy's own connect does: a stuck thread must not block exit
    return await connection


def _tune_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    sync_engine = engine.sync_engine
    _BUSY_TIMEOUT_S[sync_engine] = busy_timeout_ms / 1000

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN is ours (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # busy_timeout first: switching to WAL may need a lock that a busy writer holds, and must wait for it too.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front: a deferred transaction that upgrades from read to write can fail
        # with "database is locked" without waiting for busy_timeout; BEGIN IMMEDIATE waits its turn instead.
        options = conn.get_execution_options()
        if options.get(AUTOCOMMIT, False):
            return  # the driver is in autocommit already (isolation_level None): each statement commits itself
        conn.exec_driver_sql("BEGIN" if options.get(READONLY, False) else "BEGIN IMMEDIATE")


def insert_ignoring_conflicts(db: AsyncSession | AsyncConnection, table: Any) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING` for the session's dialect: a unique constraint decides who wins a race."""
    dialect = db.dialect.name if isinstance(db, AsyncConnection) else db.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


_INSERTS: dict[Any, Any] = {}


async def connection_of(db: AsyncSession | AsyncConnection) -> AsyncConnection:
    """The Core connection under a unit of work's `db`: the ORM session's, or `db` itself on the Core paths."""
    return db if isinstance(db, AsyncConnection) else await db.connection()


async def insert_new_id(db: AsyncSession | AsyncConnection, table: Any, values: dict[str, Any]) -> int | None:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id` of one row, as Core on the session's connection: the new id, or
    None when a unique constraint already holds an equal row. The statement is built once per table and dialect
    (rows are bound values), as get-or-open and the commit's key claim run it on every call."""
    connection = await connection_of(db)
    key = (connection.dialect.name, table)
    statement = _INSERTS.get(key)
    if statement is None:
        statement = _INSERTS[key] = insert_ignoring_conflicts(connection, table).returning(table.c.id)
    return (await connection.execute(statement, values)).scalar_one_or_none()  # type: ignore[no-any-return]


async def insert_returning_ids(db: AsyncSession | AsyncConnection, rows: Sequence[Any]) -> list[int]:
    """INSERT model instances of one table with Core (no unit-of-work flush) and set their new ids, in order.

    Much cheaper than `add_all` + `flush` for rows written once and never changed in the same transaction: one
    statement (multi-row VALUES … RETURNING id) instead of the ORM's bookkeeping per object. The instances stay
    outside the session (plain values to return or publish)."""
    if not rows:
        return []
    table = type(rows[0]).__table__
    columns = [column.name for column in table.columns if column.name != "id"]
    ids = await insert_values_returning_ids(db, table, [{name: getattr(row, name) for name in columns} for row in rows])
    for row, new_id in zip(rows, ids, strict=True):
        row.id = new_id
    return ids


async def insert_values_returning_ids(
    db: AsyncSession | AsyncConnection, table: Any, values: list[dict[str, Any]]
) -> list[int]:
    """INSERT rows given as column values with Core; their new ids, in order (no model instances at all)."""
    if not values:
        return []
    connection = await connection_of(db)  # Core straight on the connection: no ORM execution layer for a plain INSERT
    if len(values) == 1:
        # One row (an order, usually its one event): a plain execute, without the executemany machinery.
        statement = _INSERTS.get((table, 1))
        if statement is None:
            statement = _INSERTS[(table, 1)] = insert(table).returning(table.c.id)
        return [(await connection.execute(statement, values[0])).scalar_one()]
    # executemany form: the compiled statement is cached; "insertmanyvalues" sends one multi-row INSERT … RETURNING.
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list((await connection.execute(statement, values)).scalars())


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@dataclass
class UnitOfWork:
    """An open transaction plus what must happen once it has committed."""

    db: Any  # an AsyncSession (Hub.transaction), or an AsyncConnection (Hub.core_transaction: Core statements only)
    directive_ids: list[int] = field(default_factory=list)
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    after_commit: list[Callable[[], Any]] = field(default_factory=list)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Queue a live-event message, sent only if the transaction commits."""
        self.messages.append((topic, message))


# SQLite lets one writer in at a time and makes the others poll (sleeping up to 100 ms between tries). Writers of
# one process queue here instead, in arrival order, and reach BEGIN IMMEDIATE when it is free: 50 concurrent
# commits took ≈ 45 ms each by polling. Other processes still meet busy_timeout. One lock per engine and event loop.
_WRITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Any, asyncio.Lock]] = (
    weakref.WeakKeyDictionary())
_BUSY_TIMEOUT_S: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def _writer_lock(factory: async_sessionmaker[AsyncSession]) -> tuple[asyncio.Lock, float] | None:
    bind = factory.kw.get("bind")
    if bind is None or bind.sync_engine not in _BUSY_TIMEOUT_S:
        return None  # not a SQLite engine made by create_engine
    locks = _WRITERS.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    return locks.setdefault(bind.sync_engine, asyncio.Lock()), _BUSY_TIMEOUT_S[bind.sync_engine]


@asynccontextmanager
async def _writer_turn(factory: async_sessionmaker[AsyncSession], *, readonly: bool) -> AsyncIterator[None]:
    """Wait for this process's SQLite writer queue (a no-op for readers and for PostgreSQL)."""
    writer = None if readonly else _writer_lock(factory)
    if writer is None:
        yield
        return
    lock, timeout_s = writer
    try:
        async with asyncio.timeout(timeout_s):
            await lock.acquire()
    except TimeoutError:
        # The same failure SQLite gives when busy_timeout runs out (e.g. a write opened inside another).
        raise OperationalError("BEGIN IMMEDIATE", None, Exception("database is locked (writer queue)")) from None
    try:
        yield
    finally:
        lock.release()


def writer_turn(factory: async_sessionmaker[AsyncSession]) -> AbstractAsyncContextManager[None]:
    """The SQLite writer queue of this process, for a write sent on a connection that is already open."""
    return _writer_turn(factory, readonly=False)


@asynccontextmanager
async def open_transaction(
    factory: async_sessionmaker[AsyncSession], *, readonly: bool = False
) -> AsyncIterator[UnitOfWork]:
    """Commit on success, roll back on any exception. Post-commit work is the caller's (see Hub.transaction)."""
    async with _writer_turn(factory, readonly=readonly), factory() as db, db.begin():
        if readonly:
            await db.connection(execution_options={READONLY: True})
        yield UnitOfWork(db=db)


@asynccontextmanager
async def open_connection(
    factory: async_sessionmaker[AsyncSession], *, readonly: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A Core transaction without an ORM session, for hot paths that only send statements (a directive's claim and
    completion): the same BEGIN rules and SQLite writer queue as `open_transaction`, less per-transaction work."""
    async with _writer_turn(factory, readonly=readonly), factory.kw["bind"].connect() as connection:
        if readonly:
            connection = await connection.execution_options(**{READONLY: True})
        async with connection.begin():
            yield connection


@asynccontextmanager
async def open_core_transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
    """A write transaction as `open_transaction`, whose `db` is a Core connection instead of an ORM session: for the
    checkout path, which sends prebuilt statements and keeps rows as plain values (no unit of work to flush)."""
    async with open_connection(factory) as connection:
        yield UnitOfWork(db=connection)


@asynccontextmanager
async def open_autocommit(factory: async_sessionmaker[AsyncSession], *, write: bool) -> AsyncIterator[UnitOfWork]:
    """A unit of work with no transaction around its statements (`db` is a Core connection): each one commits by
    itself. For a use case made of one write, or of reads that need no common snapshot: no BEGIN and COMMIT round
    trips, and on SQLite the writer lock is held for that one statement only. Writers still queue for this
    process's SQLite writer turn."""
    engine = factory.kw["bind"]
    async with _writer_turn(factory, readonly=not write), engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection = await connection.execution_options(**{AUTOCOMMIT: True})
            yield UnitOfWork(db=connection)
            await connection.commit()
            return
        # psycopg's own autocommit switch, on and back off: SQLAlchemy's isolation_level option does the same through
        # its dialect and pool-reset machinery at ≈ 70 µs more per use (three uses per checkout).
        driver = (await connection.get_raw_connection()).driver_connection
        await driver.set_autocommit(True)
        try:
            yield UnitOfWork(db=connection)
            await connection.commit()
        finally:
            try:
                await driver.set_autocommit(False)
            except BaseException:
                await connection.invalidate()  # never hand an autocommit connection back to the pool
                raise

"""Engines, sessions and the unit of work: one transaction per use case, with after-commit hooks."""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from ..settings import Settings
from .sqlite import AUTOCOMMIT, READONLY, create_sqlite_engine


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    """An async engine for the configured database, tuned for concurrent writers."""
    url = settings.async_database_url
    if url.startswith("sqlite"):
        engine = create_sqlite_engine(settings, **kwargs)
        _BUSY_TIMEOUT_S[engine.sync_engine] = settings.sqlite_busy_timeout_ms / 1000  # its writers queue (_writer_turn)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size * 4,
        pool_pre_ping=False,
        **kwargs,
    )


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


# SQLite lets one writer in at a time and makes the others poll (sleeping up to 100 ms between tries), so commits
# queued behind each other took several times their own length. Writers of one process queue here instead and reach
# BEGIN IMMEDIATE when it is free. Other processes still meet busy_timeout. One queue per engine and event loop.
_WRITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Any, _WriterQueue]] = (
    weakref.WeakKeyDictionary())
_BUSY_TIMEOUT_S: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


class _WriterQueue:
    """This process's SQLite writers of one engine, one at a time.

    A writer that finds the turn free takes it at once, even ahead of waiters woken but not yet run: with the
    accelerator a write runs on the loop without yielding (see sqlite_driver), so the turn is free again before they
    run (on the stock path it yields at every call, and a woken waiter may find the turn taken). asyncio.Lock
    instead reserves the turn for the first waiter until that task runs, a loop iteration later, and queues every
    writer arriving meanwhile: once a queue formed under load it never drained (at 32 clients all 32 requests
    waited, each holding a pooled connection, and each write paid a hand-off). A woken waiter that finds the turn
    taken waits again, at the front."""

    __slots__ = ("held", "waiters")

    def __init__(self) -> None:
        self.held = False
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self, timeout_s: float) -> None:
        if not self.held:
            self.held = True
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        again = False
        while self.held:
            waiter = loop.create_future()
            if again:
                self.waiters.appendleft(waiter)
            else:
                self.waiters.append(waiter)
            again = True
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except BaseException:
                if waiter.cancelled() or not waiter.done():  # still queued
                    self.waiters.remove(waiter)
                elif not self.held:
                    self._wake_next()  # woken, then cancelled or timed out: the wake-up goes to the next waiter
                raise
        self.held = True

    def release(self) -> None:
        self.held = False
        self._wake_next()

    def _wake_next(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _writer_queue(factory: async_sessionmaker[AsyncSession]) -> tuple[_WriterQueue, float] | None:
    bind = factory.kw.get("bind")
    if bind is None or bind.sync_engine not in _BUSY_TIMEOUT_S:
        return None  # not a SQLite engine made by create_engine
    queues = _WRITERS.get(loop := asyncio.get_running_loop())
    if queues is None:
        queues = _WRITERS[loop] = weakref.WeakKeyDictionary()
    queue = queues.get(bind.sync_engine)
    if queue is None:
        queue = queues[bind.sync_engine] = _WriterQueue()
    return queue, _BUSY_TIMEOUT_S[bind.sync_engine]


def _no_turn() -> None:
    pass


@asynccontextmanager
async def _writer_turn(
    factory: async_sessionmaker[AsyncSession], *, readonly: bool
) -> AsyncIterator[Callable[[], None]]:
    """Wait for this process's SQLite writer queue (a no-op for readers and for PostgreSQL). Gives a function that
    ends the turn early: once the transaction has committed or rolled back, before its connection or session
    closes. SQLAlchemy shields those closes in a task of their own, a loop iteration during which the turn would
    otherwise stay held with nothing left to write, and every writer arriving meanwhile would queue."""
    writer = None if readonly else _writer_queue(factory)
    if writer is None:
        yield _no_turn
        return
    queue, timeout_s = writer
    try:
        await queue.acquire(timeout_s)
    except TimeoutError:
        # The same failure SQLite gives when busy_timeout runs out (e.g. a write opened inside another).
        raise OperationalError("BEGIN IMMEDIATE", None, Exception("database is locked (writer queue)")) from None
    held = True

    def end_turn() -> None:
        nonlocal held
        if held:
            held = False
            queue.release()

    try:
        yield end_turn
    finally:
        end_turn()


def writer_turn(factory: async_sessionmaker[AsyncSession]) -> AbstractAsyncContextManager[Any]:
    """The SQLite writer queue of this process, for a write sent on a connection that is already open."""
    return _writer_turn(factory, readonly=False)


@asynccontextmanager
async def open_transaction(
    factory: async_sessionmaker[AsyncSession], *, readonly: bool = False
) -> AsyncIterator[UnitOfWork]:
    """Commit on success, roll back on any exception. Post-commit work is the caller's (see Hub.transaction)."""
    async with _writer_turn(factory, readonly=readonly) as end_turn, factory() as db:
        try:
            async with db.begin():
                if readonly:
                    await db.connection(execution_options={READONLY: True})
                yield UnitOfWork(db=db)
        finally:
            end_turn()  # committed or rolled back


@asynccontextmanager
async def open_connection(
    factory: async_sessionmaker[AsyncSession], *, readonly: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A Core transaction without an ORM session, for hot paths that only send statements (a directive's claim and
    completion): the same BEGIN rules and SQLite writer queue as `open_transaction`, less per-transaction work."""
    async with _writer_turn(factory, readonly=readonly) as end_turn, factory.kw["bind"].connect() as connection:
        if readonly:
            _set_option(connection, READONLY)
        try:
            async with connection.begin():
                yield connection
        finally:
            end_turn()  # committed or rolled back


def _set_option(connection: AsyncConnection, name: str) -> None:
    # As `await connection.execution_options(name=True)`, which runs the same pure-Python method in a greenlet of its
    # own: our options need no I/O (the dialect ignores them; _on_begin reads them).
    connection.sync_connection.execution_options(**{name: True})  # type: ignore[union-attr]


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
    async with _writer_turn(factory, readonly=not write) as end_turn, engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            _set_option(connection, AUTOCOMMIT)
            try:
                yield UnitOfWork(db=connection)
                await connection.commit()
            finally:
                end_turn()  # every statement has committed by itself
            return
        driver = (await connection.get_raw_connection()).driver_connection
        async with psycopg_autocommit(connection, driver) as unit:
            yield unit


@asynccontextmanager
async def psycopg_autocommit(connection: AsyncConnection, driver: Any) -> AsyncIterator[UnitOfWork]:
    """A PostgreSQL unit of work in autocommit on `connection`, whose psycopg connection is `driver`: psycopg's own
    switch, on for the block and back off. SQLAlchemy's isolation_level option does the same through its dialect and
    pool-reset machinery at ≈ 70 µs more per use (three uses per checkout)."""
    await driver.set_autocommit(True)
    try:
        yield UnitOfWork(db=connection)
        # Ends the transaction SQLAlchemy began for a statement run through it (psycopg has committed each one). When
        # every statement went by pg_direct there is none: commit() would be a no-op, after ≈ 13 µs of greenlet hop.
        if connection.sync_connection.get_transaction() is not None:  # type: ignore[union-attr]
            await connection.commit()
    finally:
        try:
            await driver.set_autocommit(False)
        except BaseException:
            await connection.invalidate()  # never hand an autocommit connection back to the pool
            raise

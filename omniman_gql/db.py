"""Engines, sessions and the unit of work: one transaction per use case, with after-commit hooks."""

from __future__ import annotations

import asyncio
import collections
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
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_, in_greenlet

from .settings import Settings

log = logging.getLogger(__name__)

READONLY = "omniman_readonly"
AUTOCOMMIT = "omniman_autocommit"  # SQLite: no BEGIN at all, each statement is its own transaction


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    """An async engine for the configured database, tuned for concurrent writers."""
    url = settings.async_database_url
    if url.startswith("sqlite"):
        # Up to 32 idle connections kept (no thread each, see _SqliteConnection): with 8, a process serving 32
        # clients opened and closed ≈ 80 connections a second, each with its PRAGMAs.
        engine = create_async_engine(url, pool_size=32, max_overflow=32, pool_timeout=60,
                                     module=_SqliteDriver(settings.sqlite_busy_timeout_ms), **kwargs)
        _tune_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size * 4,
        pool_pre_ping=False,
        **kwargs,
    )


# SQLite's primary result code for a lock held elsewhere, and the one extended code waiting cannot cure: a deferred
# transaction whose snapshot went stale before it tried to write (SQLite answers at once, without its busy handler).
_SQLITE_BUSY = 5
_SQLITE_BUSY_SNAPSHOT = 517
# The calls SQLite undoes entirely when they meet a busy lock (statement atomicity; a COMMIT stays pending), so they
# can be sent again as they are. Never a fetch: its statement was reset, so a second try would find no rows.
_SENT_AGAIN = frozenset({"execute", "executemany", "commit"})
_ON_THREAD = object()  # _SqliteConnection._here's answer when a call must run on the connection's thread


class _Ready:
    """An awaitable that is done at once, without yielding to the loop (see `_SqliteCursor.execute`)."""

    def __await__(self) -> Any:
        return iter(())


_READY = _Ready()


class _SqliteConnection(aiosqlite.Connection):
    """aiosqlite's connection whose calls run on the event loop's thread, with aiosqlite's thread kept for waiting.

    A statement in WAL mode takes microseconds, while handing each call (cursor, execute, fetch, close: ≈ 4 per
    statement) to aiosqlite's thread and back cost more CPU than the statement itself, plus a wake-up of the loop
    each. So a call runs right here, with SQLite's busy timeout at 0: it never waits on the loop. Only when SQLite
    answers "busy" (a lock held by ANOTHER process or engine: the CLI, a worker, a second web process; this
    process's own writers queue in `_writer_turn` first) is the call sent again on the thread, with the configured
    busy timeout, so the loop keeps serving while it waits. While a call is on the thread, later calls of this
    connection follow it there, in order. The connection opens here too, and its thread starts only when a call
    first has to wait: most connections never start one (a pool that grows and shrinks under load paid a thread
    start, stop and join per connection).

    Connections cancelled while a call waits on the thread stay safe: SQLAlchemy then terminates the connection
    with a graceful close() in a shielded task and, the caller being cancelled, a stop() of the thread at once.
    Stock aiosqlite then (1) waits forever in close() for the stopped thread, a task that hung the event loop's
    shutdown, and (2) lets the thread, still finishing the cancelled call, post its last result to a loop that may
    have closed by then."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], busy_timeout_ms: int) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._thread.daemon = True  # as SQLAlchemy's own connect does: a stuck thread must not block exit
        self._busy_timeout_ms = int(busy_timeout_ms)
        # Calls handed to the thread (counted on the loop) and those the thread has finished (counted on the thread,
        # before it posts the result): equal when the thread holds none of this connection's calls.
        self._handed = 0
        self._finished = 0

    def __await__(self) -> Any:
        return self._open().__await__()

    async def _open(self) -> _SqliteConnection:
        # sqlite3.connect only opens the file (timeout=0: no wait for any lock on the loop); no thread needed.
        if self._connection is None:
            self._connection = self._connector()
        return self

    def _here(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """fn(*args) on this thread, or _ON_THREAD when it must run (again) on the connection's thread."""
        connection = self._connection
        if not self._running or connection is None:
            raise ValueError("Connection closed")
        if self._handed != self._finished:
            return _ON_THREAD
        changes = connection.total_changes
        try:
            return fn(*args)
        except sqlite3.OperationalError as error:
            code = getattr(error, "sqlite_errorcode", 0)
            if (code & 0xFF != _SQLITE_BUSY or code == _SQLITE_BUSY_SNAPSHOT
                    or getattr(fn, "__name__", "") not in _SENT_AGAIN
                    or connection.total_changes != changes):  # part of an executemany went through: not again
                raise
            log.debug("SQLite is busy (%s): %s waits for the lock on its connection's thread", error, fn.__name__)
            return _ON_THREAD

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) from SQLAlchemy's adapter, which runs in a greenlet: awaits the thread only when it must."""
        result = self._here(fn, args)
        return await_(self._on_thread(fn, args)) if result is _ON_THREAD else result

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # aiosqlite's own entry point, for what still goes through its API (server-side cursors, functions, close).
        if kwargs:
            fn = partial(fn, **kwargs)
        result = self._here(fn, args)
        return await self._on_thread(fn, args) if result is _ON_THREAD else result

    async def _on_thread(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        future = asyncio.get_running_loop().create_future()
        if not self._thread.is_alive():
            self._thread.start()  # the first call of this connection that has to wait
        self._handed += 1
        self._tx.put_nowait((future, partial(self._waiting, fn, args)))
        return await future

    def _waiting(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """On the thread: the call with SQLite's busy handler on (it sleeps and retries until the lock is free or
        the timeout runs out), then the timeout back to 0 for the loop's next call."""
        try:
            connection = self._conn
            connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            try:
                return fn(*args)
            finally:
                try:
                    connection.execute("PRAGMA busy_timeout = 0")
                except sqlite3.ProgrammingError:
                    pass  # the call was close() itself
        finally:
            self._finished += 1

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
        if self._thread.ident is None:  # never started: no call of this connection can be in flight
            self._running = False
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            return None
        stopped = super().stop()
        if stopped is not None:
            # The loop's shutdown waits for its default executor: joining the thread there keeps the loop open until
            # the thread has posted its last result.
            stopped.get_loop().run_in_executor(None, self._thread.join)
        return stopped


class _SqliteCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's cursor adapter over a plain sqlite3 cursor: each call through `_SqliteConnection.call`, so a
    statement costs no coroutine, greenlet switch or aiosqlite proxy unless it has to wait on the thread."""

    __slots__ = ()

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        connection = self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        try:
            self._cursor = connection.call(connection._conn.cursor)
        except Exception as error:  # noqa: BLE001 - SQLAlchemy's adapter maps it to the DBAPI's errors
            adapt_connection._handle_exception(error)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            call, cursor = self._connection.call, self._cursor
            call(cursor.execute, operation, () if parameters is None else parameters)
            if cursor.description:
                self._rows = collections.deque(call(cursor.fetchall))
        except Exception as error:  # noqa: BLE001
            self._adapt_connection._handle_exception(error)
        # AsyncConnection.execute() insists that the driver awaited something (its guard against sync drivers): one
        # await that is done at once, instead of the three to four aiosqlite makes per statement.
        await_(_READY)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            self._connection.call(self._cursor.executemany, operation, seq_of_parameters)
        except Exception as error:  # noqa: BLE001
            self._adapt_connection._handle_exception(error)
        await_(_READY)  # as in execute()

    async def _async_soft_close(self) -> None:
        # SQLAlchemy's async result, once it has the rows: keep the description, close the cursor.
        self._soft_closed_memoized = self._soft_closed_memoized.union({"description": self._cursor.description})
        connection = self._connection
        if connection._handed == connection._finished:
            self._cursor.close()
        else:  # a call still on the thread: close after it, there
            await connection._execute(self._cursor.close)

    def close(self) -> None:
        self._rows.clear()
        if self._soft_closed_memoized:
            return
        connection = self._connection
        if connection._connection is None or not connection._running:
            return  # the connection's close closes its cursors
        if connection._handed == connection._finished:
            self._cursor.close()
        elif in_greenlet():  # a call still on the thread: close after it, there
            connection.call(self._cursor.close)


class _SqliteAdapter(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's connection adapter for `_SqliteConnection`: cursors, commit and rollback without aiosqlite's
    coroutines (see `_SqliteCursor`)."""

    __slots__ = ()
    _cursor_cls = _SqliteCursor

    def commit(self) -> None:
        connection = self._connection
        if connection._connection is not None:
            try:
                connection.call(connection._connection.commit)
            except Exception as error:  # noqa: BLE001
                self._handle_exception(error)

    def rollback(self) -> None:
        connection = self._connection
        if connection._connection is not None:
            try:
                connection.call(connection._connection.rollback)
            except Exception as error:  # noqa: BLE001
                self._handle_exception(error)

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level  # type: ignore[no-any-return]

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        connection = self._connection
        try:
            connection.call(setattr, connection._conn, "isolation_level", value)
        except Exception as error:  # noqa: BLE001
            self._handle_exception(error)


class _SqliteDriver(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (`module=`): it connects `_SqliteConnection`s."""

    def __init__(self, busy_timeout_ms: int) -> None:
        super().__init__(aiosqlite, sqlite3)
        self.busy_timeout_ms = busy_timeout_ms

    def connect(self, *args: Any, **kwargs: Any) -> _SqliteAdapter:
        # timeout=0: SQLite's busy timeout is 0 for calls on the loop; _SqliteConnection waits on its thread instead.
        connector = partial(sqlite3.connect, *args, **{**kwargs, "timeout": 0})
        return _SqliteAdapter(self, await_(_SqliteConnection(connector, self.busy_timeout_ms)))


def _tune_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    sync_engine = engine.sync_engine
    _BUSY_TIMEOUT_S[sync_engine] = busy_timeout_ms / 1000

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN is ours (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # Switching to WAL may need a lock that a busy writer holds: the connection waits for it on its thread.
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
        statement = "BEGIN" if options.get(READONLY, False) else "BEGIN IMMEDIATE"
        # Straight to the driver: exec_driver_sql built a whole execution context (and result) for it.
        driver = conn.connection.driver_connection
        try:
            driver.call(driver._conn.execute, statement)
        except sqlite3.Error as error:  # as SQLAlchemy reports a failed statement
            raise DBAPIError.instance(statement, None, error, sqlite3.Error) from error


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
# one process queue here instead and reach BEGIN IMMEDIATE when it is free: 50 concurrent commits took ≈ 45 ms each
# by polling. Other processes still meet busy_timeout. One queue per engine and event loop.
_WRITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Any, _WriterQueue]] = (
    weakref.WeakKeyDictionary())
_BUSY_TIMEOUT_S: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


class _WriterQueue:
    """This process's SQLite writers of one engine, one at a time.

    A writer that finds the turn free takes it at once, even ahead of waiters woken but not yet run: a write runs
    on the loop without yielding (see _SqliteConnection), so the turn is free again before they run. asyncio.Lock
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
        await connection.commit()
    finally:
        try:
            await driver.set_autocommit(False)
        except BaseException:
            await connection.invalidate()  # never hand an autocommit connection back to the pool
            raise

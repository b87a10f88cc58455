"""SQLite for the event loop: statements run on the loop's thread; a call that meets another process's lock waits on
the connection's own thread, so the loop never blocks on a lock (the DBAPI module given to SQLAlchemy's aiosqlite
dialect)."""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_, in_greenlet

log = logging.getLogger(__name__)


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


class SqliteDriver(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (`module=`): it connects `_SqliteConnection`s."""

    def __init__(self, busy_timeout_ms: int) -> None:
        super().__init__(aiosqlite, sqlite3)
        self.busy_timeout_ms = busy_timeout_ms

    def connect(self, *args: Any, **kwargs: Any) -> _SqliteAdapter:
        # timeout=0: SQLite's busy timeout is 0 for calls on the loop; _SqliteConnection waits on its thread instead.
        connector = partial(sqlite3.connect, *args, **{**kwargs, "timeout": 0})
        return _SqliteAdapter(self, await_(_SqliteConnection(connector, self.busy_timeout_ms)))

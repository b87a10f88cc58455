"""The SQLite accelerator (`OMNIMAN_ACCELERATE`): SQLite calls on the event loop's thread, lock waits on a thread.

Stock aiosqlite hands every call (cursor, execute, fetch, close, commit: four or five per statement) to its
connection's thread and back, each a wake-up of the event loop, and together far more CPU than the statement itself
in WAL mode. `LoopConnection` instead runs a call right here, with SQLite's busy timeout at 0, so it can never wait
on the loop. Only when SQLite answers "busy" (a lock held by ANOTHER process or engine: the CLI, a worker, a second
web process; this process's own writers queue in `db._writer_turn` first) is the call sent again on the connection's
own thread, with the configured busy timeout, and the loop keeps serving while it waits. While a call is on the
thread, later calls of the connection follow it there, in order.

What it relies on beyond public APIs, and why it is pinned (`pyproject.toml`: SQLAlchemy's and aiosqlite's minor
series) and switchable (`Settings.accelerate`; off, the engine is SQLAlchemy's stock aiosqlite dialect):

- SQLAlchemy's public `create_async_engine(async_creator=...)` hands `LoopConnection` to the `sqlite+aiosqlite`
  dialect's own adapter, which expects aiosqlite's `Connection` and `Cursor`. `LoopConnection` and `LoopCursor` speak
  the part of aiosqlite's public API that adapter calls, plus one private name it reads: `_connection` (aiosqlite's
  sqlite3 connection, or None once closed), checked before every commit and rollback.
- Nothing of aiosqlite or of SQLAlchemy's adapter is imported, subclassed or patched here; the two libraries'
  versions matter only in that the adapter's calls (and aiosqlite's behaviour it was written for) stay as they are.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from functools import partial
from queue import SimpleQueue
from typing import Any

log = logging.getLogger(__name__)

# SQLite's primary result code for a lock held elsewhere, and the one extended code waiting cannot cure: a deferred
# transaction whose snapshot went stale before it tried to write (SQLite answers at once, without its busy handler).
_SQLITE_BUSY = 5
_SQLITE_BUSY_SNAPSHOT = 517


async def connect(database: str, *, busy_timeout_ms: int, **kwargs: Any) -> LoopConnection:
    """A `LoopConnection` on `database` (`kwargs` go to sqlite3.connect): the engine's `async_creator`."""
    # timeout=0: no busy wait on the loop (the connection waits on its thread instead); isolation_level=None: sqlite3
    # sends no BEGIN of its own, the engine does (see _on_begin in sqlite.py).
    kwargs.update(timeout=0, isolation_level=None, check_same_thread=False)
    return LoopConnection(sqlite3.connect(database, **kwargs), busy_timeout_ms)


class LoopConnection:
    """aiosqlite's connection API on a sqlite3 connection whose calls run on the event loop's thread unless they
    must wait for a lock. Its thread starts only when a call first has to wait: most connections never start one."""

    def __init__(self, connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
        self._connection: sqlite3.Connection | None = connection  # the name SQLAlchemy's adapter reads (aiosqlite's)
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._thread: threading.Thread | None = None
        self._calls: SimpleQueue[tuple[asyncio.Future[Any] | None, Callable[[], Any]] | None] = SimpleQueue()
        # Calls handed to the thread (counted on the loop) and those it has finished (counted on the thread before
        # it posts the result): equal when the thread holds none of this connection's calls.
        self._handed = 0
        self._finished = 0

    async def _call(self, fn: Callable[..., Any], *args: Any, again: bool = False) -> Any:
        """fn(*args) here, or on the thread when a call is there already or SQLite answers busy and `again` says
        SQLite undid the call entirely, so it can be sent as it is (execute, executemany, commit: never a fetch,
        whose statement was reset and would find no rows)."""
        connection = self._connection
        if connection is None:
            raise ValueError("Connection closed")  # as aiosqlite says it: SQLAlchemy maps it to a disconnect
        if self._handed == self._finished:
            changes = connection.total_changes
            try:
                return fn(*args)
            except sqlite3.OperationalError as error:
                code = getattr(error, "sqlite_errorcode", 0)
                if (not again or code & 0xFF != _SQLITE_BUSY or code == _SQLITE_BUSY_SNAPSHOT
                        or connection.total_changes != changes):  # part of an executemany went through
                    raise
                log.debug("SQLite is busy (%s): the call waits for the lock on its connection's thread", error)
        return await self._on_thread(partial(self._waiting, connection, fn, args))

    async def _on_thread(self, call: Callable[[], Any]) -> Any:
        future = asyncio.get_running_loop().create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=_serve, args=(self._calls,), name="sqlite-wait", daemon=True)
            self._thread.start()
        self._handed += 1
        self._calls.put((future, call))
        return await future

    def _waiting(self, connection: sqlite3.Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """On the thread: the call with SQLite's busy handler on (it sleeps and retries until the lock is free or
        the timeout runs out), then the timeout back to 0 for the loop's next call."""
        try:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            try:
                return fn(*args)
            finally:
                try:
                    connection.execute("PRAGMA busy_timeout = 0")
                except sqlite3.ProgrammingError:
                    pass  # the call closed the connection
        finally:
            self._finished += 1

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")  # aiosqlite's words, which SQLAlchemy maps to a disconnect
        return self._connection

    # aiosqlite's API: the part SQLAlchemy's adapter uses, and set_trace_callback (for a connect event's run_async)

    def cursor(self) -> LoopCursor:
        return LoopCursor(self, self._open().cursor())

    async def commit(self) -> None:
        if self._connection is not None:
            await self._call(self._connection.commit, again=True)  # a busy COMMIT leaves the transaction pending

    async def rollback(self) -> None:
        if self._connection is not None:
            await self._call(self._connection.rollback)

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any], *,
                              deterministic: bool = False) -> None:
        await self._call(partial(self._open().create_function, name, num_params, func, deterministic=deterministic))

    async def set_trace_callback(self, handler: Callable[[str], object] | None) -> None:
        await self._call(self._open().set_trace_callback, handler)

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    async def close(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            await self._call(connection.close)  # after any call still on the thread, there
        finally:
            self._connection = None
            self._stop_thread()

    def stop(self) -> None:
        """Close without waiting (SQLAlchemy's terminate, e.g. of a connection whose user was cancelled while a
        call waits on the thread): the thread closes the connection once that call is done."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._handed == self._finished:
            connection.close()
        else:
            self._calls.put((None, connection.close))  # a result nobody awaits
        self._stop_thread()

    def _stop_thread(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._calls.put(None)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # garbage collection, no loop: the daemon thread ends on its own
        # The loop's shutdown waits for its default executor: joining the thread there keeps the loop open until the
        # thread has posted its last result (a loop closed under it would make that post fail).
        loop.run_in_executor(None, thread.join)


class LoopCursor:
    """aiosqlite's cursor API on a sqlite3 cursor, each call through its `LoopConnection`."""

    __slots__ = ("_connection", "_cursor")

    def __init__(self, connection: LoopConnection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def __aenter__(self) -> LoopCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Iterable[Any] = ()) -> LoopCursor:
        await self._connection._call(self._cursor.execute, sql, parameters, again=True)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> LoopCursor:
        await self._connection._call(self._cursor.executemany, sql, parameters, again=True)
        return self

    async def fetchone(self) -> Any:
        return await self._connection._call(self._cursor.fetchone)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self._cursor.arraysize if size is None else size
        return await self._connection._call(self._cursor.fetchmany, size)  # type: ignore[no-any-return]

    async def fetchall(self) -> list[Any]:
        return await self._connection._call(self._cursor.fetchall)  # type: ignore[no-any-return]

    async def __aiter__(self) -> AsyncIterator[Any]:
        while rows := await self.fetchmany():
            for row in rows:
                yield row

    async def close(self) -> None:
        if self._connection._connection is not None:  # else closing the connection closed its cursors
            await self._connection._call(self._cursor.close)

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


def _serve(calls: SimpleQueue[tuple[asyncio.Future[Any] | None, Callable[[], Any]] | None]) -> None:
    """A connection's thread: its calls, in order, each result posted to the awaiting loop."""
    while (item := calls.get()) is not None:
        future, call = item
        try:
            outcome: tuple[Callable[..., None], Any] = (_set_result, call())
        except BaseException as error:  # noqa: BLE001 - handed back to the awaiting task
            outcome = (_set_exception, error)
        if future is None:
            continue
        try:
            future.get_loop().call_soon_threadsafe(outcome[0], future, outcome[1])
        except RuntimeError:
            pass  # the loop has closed: nobody is left to await the result


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # a cancelled awaiter
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)

"""SQLite engines: WAL, foreign keys, BEGIN IMMEDIATE for writers, and the busy wait kept off the event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..settings import Settings

READONLY = "omniman_readonly"
AUTOCOMMIT = "omniman_autocommit"  # no BEGIN at all, each statement is its own transaction

# Up to 32 idle connections kept: a process serving 32 clients with 8 kept opened and closed dozens of connections a
# second, each with its PRAGMAs.
_POOL = {"pool_size": 32, "max_overflow": 32, "pool_timeout": 60}


def create_sqlite_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    """An async engine on the SQLite file of `settings`.

    With `settings.accelerate` off it is SQLAlchemy's stock `sqlite+aiosqlite` dialect on stock aiosqlite, set up
    with public APIs only: every call runs on aiosqlite's thread, so SQLite's own busy timeout (the `timeout` of
    `sqlite3.connect`) waits there, never on the event loop."""
    url = settings.async_database_url
    busy_timeout_ms = settings.sqlite_busy_timeout_ms
    if settings.accelerate:
        from . import sqlite_driver

        async def connect() -> Any:
            args, params = engine.dialect.create_connect_args(engine.url)
            return await sqlite_driver.connect(*args, busy_timeout_ms=busy_timeout_ms, **params)

        engine = create_async_engine(url, async_creator=connect, **_POOL, **kwargs)
    else:
        # isolation_level=None: sqlite3 sends no BEGIN of its own, so BEGIN is ours (see _on_begin); connect_args
        # go to sqlite3.connect through aiosqlite.connect.
        connect_args = {"timeout": busy_timeout_ms / 1000, "isolation_level": None}
        engine = create_async_engine(url, connect_args=connect_args, **_POOL, **kwargs)
        # aiosqlite's DEBUG lines print every statement with its parameters, which may be personal data (a
        # customer's phone, e-mail, name): they stay off even when the root logger is at DEBUG.
        if logging.getLogger("aiosqlite").level == logging.NOTSET:
            logging.getLogger("aiosqlite").setLevel(logging.INFO)
        event.listen(engine.sync_engine, "invalidate", _close_before_terminate)
    _tune(engine)
    return engine


def _close_before_terminate(dbapi_connection: Any, _record: Any, _error: BaseException | None) -> None:
    """Close an invalidated aiosqlite connection in the task that invalidates it, to the end (the stock path).

    SQLAlchemy terminates an invalidated connection (e.g. one whose task was cancelled mid-statement) with a graceful
    close in a shielded task of its own, and stops aiosqlite's thread at once if its task is cancelled again meanwhile.
    aiosqlite 0.22's close() then waits forever for a stop that its stopped thread never runs; cancelled once more (as
    an event loop ending cancels every task left), it stays pending and the loop's shutdown hangs. Closed here first,
    the connection leaves terminate nothing to close and no task of its own behind. The close waits for the call in
    flight on aiosqlite's thread: at most the busy timeout, when that call waits for a lock."""
    try:
        dbapi_connection.run_async(_close_to_the_end)
    except Exception:  # noqa: BLE001 - not in a greenlet, or the close failed: terminate still stops the thread
        pass


async def _close_to_the_end(driver: Any) -> None:
    """`driver.close()`, awaited until aiosqlite's thread has run it whatever cancels this task meanwhile (then the
    cancellation goes on): an event loop cannot end before that thread has posted its last result to it."""
    closing = asyncio.ensure_future(driver.close())
    cancelled = False
    while not closing.done():
        try:
            await asyncio.wait({closing})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    if not closing.cancelled():  # else the loop is ending and cancelled it: its stop has run all the same
        closing.result()


def _tune(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # Switching to WAL may need a lock that a busy writer holds: the connection waits for it off the loop.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front: a deferred transaction that upgrades from read to write can fail
        # with "database is locked" without waiting for the busy timeout; BEGIN IMMEDIATE waits its turn instead.
        options = conn.get_execution_options()
        if options.get(AUTOCOMMIT, False):
            return  # the driver is in autocommit already (isolation_level None): each statement commits itself
        conn.exec_driver_sql("BEGIN" if options.get(READONLY, False) else "BEGIN IMMEDIATE")

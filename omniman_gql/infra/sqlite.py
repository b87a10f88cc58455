"""SQLite engines: WAL, foreign keys, BEGIN IMMEDIATE for writers, and the busy wait kept off the event loop."""

from __future__ import annotations

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
    _tune(engine)
    return engine


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

"""PostgreSQL: the checkout's Core connections kept open between use cases, instead of a pool checkout and return."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .db import UnitOfWork, psycopg_autocommit

_IDLE = TransactionStatus.IDLE


class ParkedConnections:
    """SQLAlchemy connections of one engine, each idle between two use cases (no transaction, autocommit off), kept
    for the next one: `engine.connect()` and `close()` cost ≈ 50 µs of CPU per use in SQLAlchemy's pool (checkout
    and checkin events, the connection fairy, the reset on return, two greenlet hops), three uses per checkout.

    A parked connection is still checked out of the engine's pool; parked and pooled idle connections together
    number at most `keep` (the pool's size), so no more connections stay open than the pool alone would keep. A
    connection left in any other state (an error, a transaction still open, invalidated, closed) is closed as
    before: the pool resets it. `close()` (at the Hub's disposal) returns every parked connection to the pool."""

    __slots__ = ("_engine", "_idle", "_keep", "_closed")

    def __init__(self, engine: AsyncEngine, keep: int) -> None:
        self._engine = engine
        self._idle: list[AsyncConnection] = []
        self._keep = keep
        self._closed = False

    async def acquire(self) -> AsyncConnection:
        idle = self._idle
        while idle:
            connection = idle.pop()
            if _reusable(connection):
                return connection
            await connection.close()
        return await self._engine.connect()

    async def release(self, connection: AsyncConnection, *, clean: bool) -> None:
        """Park the connection if the use case ended normally and left it as it found it; else close it. Parked and
        pooled idle connections together stay within `keep`: once a burst is over, parked ones beyond that go back to
        the pool (which closes those it has no room for), as its overflow connections always did."""
        idle = self._idle
        pooled = getattr(self._engine.sync_engine.pool, "checkedin", None)
        if pooled is None:  # a pool that keeps nothing idle (NullPool): park nothing either
            await connection.close()
            return
        if clean and not self._closed and len(idle) + pooled() < self._keep and _reusable(connection):
            idle.append(connection)
            return
        await connection.close()
        while idle and len(idle) + pooled() > self._keep:
            await idle.pop(0).close()

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            await self._idle.pop().close()

    @asynccontextmanager
    async def core_transaction(self) -> AsyncIterator[UnitOfWork]:
        """`db.open_core_transaction` on PostgreSQL (which has no writer queue): a Core connection in a transaction,
        committed at the end of the block, rolled back on any exception."""
        connection = await self.acquire()
        clean = False
        try:
            async with connection.begin():
                yield UnitOfWork(db=connection)
            clean = True
        finally:
            await self.release(connection, clean=clean)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[UnitOfWork]:
        """`db.open_autocommit` on PostgreSQL: psycopg's autocommit switched on for the block and back off."""
        connection = await self.acquire()
        clean = False
        try:
            driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
            async with psycopg_autocommit(connection, driver) as unit:
                yield unit
            clean = True
        finally:
            await self.release(connection, clean=clean)


def _reusable(connection: AsyncConnection) -> bool:
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated or sync.in_transaction():
        return False
    raw = sync._dbapi_connection
    driver = None if raw is None else raw.driver_connection
    return driver is not None and not driver.closed and not driver.autocommit \
        and driver.pgconn.transaction_status == _IDLE

"""PostgreSQL: connections kept open between units of work, and the turns bounding how many run at once."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_IDLE = TransactionStatus.IDLE
# The Turns whose turn the running task holds (see `Turns.turn`).
_HOLDING: ContextVar[Turns | None] = ContextVar("omniman_turn", default=None)


class ParkedConnections:
    """SQLAlchemy connections of one engine, each idle between two units of work (no transaction, autocommit off),
    kept checked out for the next one instead of going through the pool's checkout and checkin (its events, its
    connection wrapper, its reset on return, two greenlet hops) three times per checkout.

    At most `keep` connections are parked; one more goes back to the pool, which keeps it or closes it by its own
    rules. Nothing is parked while every connection the pool may open (`limit`) is checked out, since a unit of work
    may be waiting in the pool for one; nor with a pool that counts no checkouts (NullPool). A connection left in
    any other state (an error, a transaction still open, invalidated, closed) goes back to the pool, which resets
    it. `close()` returns every parked connection."""

    __slots__ = ("_closed", "_engine", "_idle", "_keep", "_limit")

    def __init__(self, engine: AsyncEngine, *, keep: int, limit: int) -> None:
        self._engine = engine
        self._idle: list[AsyncConnection] = []
        self._keep = keep
        self._limit = limit
        self._closed = False

    async def acquire(self) -> AsyncConnection:
        idle = self._idle
        while idle:
            connection = idle.pop()
            if reusable(connection):
                return connection
            await connection.close()
        return await self._engine.connect()

    async def release(self, connection: AsyncConnection, *, clean: bool) -> None:
        """Park the connection if its unit of work ended normally, left it as it found it, and there is room."""
        checkedout = getattr(self._engine.sync_engine.pool, "checkedout", None)
        if clean and not self._closed and len(self._idle) < self._keep and checkedout is not None \
                and checkedout() < self._limit and reusable(connection):
            self._idle.append(connection)
        else:
            await connection.close()

    @property
    def idle(self) -> int:
        """How many connections are parked."""
        return len(self._idle)

    async def discard(self) -> None:
        """Close every parked connection (the database went away: they would each fail once more when reused)."""
        while self._idle:
            await self._idle.pop().close()

    async def close(self) -> None:
        self._closed = True
        await self.discard()


def reusable(connection: AsyncConnection) -> bool:
    """Whether a connection is as a unit of work expects to find it: open, valid, idle, autocommit off."""
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated or sync.in_transaction():
        return False
    driver = sync.connection.driver_connection
    return driver is not None and not driver.closed and not driver.autocommit \
        and driver.info.transaction_status == _IDLE


class Turns:
    """At most `limit` units of work of a process run their statements at once; the others wait in arrival order.
    PostgreSQL spends more CPU per statement when more backends are busy than it has cores (context switches,
    contended locks), so a process gains from queueing its own work (bench/README.md). A task holding a turn
    already goes on without a second: a unit of work opened inside another would otherwise wait for itself once
    every turn is held that way."""

    __slots__ = ("_limit", "_semaphore")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._semaphore: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @property
    def limit(self) -> int:
        return self._limit

    async def acquire(self) -> Any:
        """Wait for a turn; what `release` needs to give it back (None when this task holds one already)."""
        if _HOLDING.get() is self:
            return None
        semaphore = self._of_loop()
        await semaphore.acquire()
        return _HOLDING.set(self), semaphore

    def release(self, taken: Any) -> None:
        if taken is not None:
            holding, semaphore = taken
            _HOLDING.reset(holding)
            semaphore.release()

    def _of_loop(self) -> asyncio.Semaphore:
        # One per event loop: a semaphore that has made a task wait belongs to that task's loop.
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._semaphore[0] is not loop:
            self._semaphore = (loop, asyncio.Semaphore(self._limit))
        return self._semaphore[1]

"""PostgreSQL: the checkout's Core connections kept open between use cases, instead of a pool checkout and return."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .db import UnitOfWork, psycopg_autocommit

_IDLE = TransactionStatus.IDLE
# The ParkedConnections whose turn the running task holds (see `ParkedConnections._turn`).
_HOLDING: ContextVar[ParkedConnections | None] = ContextVar("omniman_parked_turn", default=None)


class ParkedConnections:
    """SQLAlchemy connections of one engine, each idle between two use cases (no transaction, autocommit off), kept
    for the next one: `engine.connect()` and `close()` cost ≈ 50 µs of CPU per use in SQLAlchemy's pool (checkout
    and checkin events, the connection fairy, the reset on return, two greenlet hops), three uses per checkout.

    A parked connection is still checked out of the engine's pool, so the pool's limit (its size plus its overflow)
    bounds parked and busy connections together. Parked and pooled idle connections beyond `keep` (the pool's size)
    stay parked for `linger_s` after their last use, then close: a steady load above the pool size reuses them
    instead of opening a connection for every use case beyond the pool size and closing it after (with 16 requests
    in flight on a pool of 10, ≈ 1.2 ms more web CPU per checkout, plus a PostgreSQL backend started per
    connection). A connection left in any other state (an error, a transaction still open, invalidated, closed) is
    closed as before: the pool resets it. `close()` (at the Hub's disposal) returns every parked connection.

    At most `max_active` use cases of the process run their statements at once; the others wait for a turn, in
    arrival order, before taking a connection. PostgreSQL spends more CPU per statement when more backends are busy
    than it has cores (context switches, contended locks): on 2 cores with 32 clients over 2 web processes, its CPU
    per checkout fell from ≈ 2.2 to ≈ 1.3 ms with 4 turns per process, and checkouts/s rose ≈ 15% (bench/README.md)."""

    __slots__ = ("_engine", "_idle", "_keep", "_linger_s", "_closed", "_trimmer", "_max_active", "_turns")

    def __init__(self, engine: AsyncEngine, keep: int, linger_s: float = 0.0, max_active: int | None = None) -> None:
        self._engine = engine
        self._idle: list[tuple[AsyncConnection, float]] = []  # (connection, parked at), the most recent last
        self._keep = keep
        self._linger_s = linger_s
        self._closed = False
        self._trimmer: asyncio.Task[None] | None = None
        self._max_active = max_active  # None: no limit
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    async def acquire(self) -> AsyncConnection:
        idle = self._idle
        while idle:
            connection, _parked_at = idle.pop()
            if _reusable(connection):
                return connection
            await connection.close()
        return await self._engine.connect()

    async def release(self, connection: AsyncConnection, *, clean: bool) -> None:
        """Park the connection if the use case ended normally and left it as it found it; else close it. Then
        close the parked connections beyond `keep` that have lingered long enough."""
        pooled = getattr(self._engine.sync_engine.pool, "checkedin", None)
        if pooled is None:  # a pool that keeps nothing idle (NullPool): park nothing either
            await connection.close()
            return
        if clean and not self._closed and not _pool_exhausted(self._engine) and _reusable(connection):
            self._idle.append((connection, time.monotonic()))
        else:
            await connection.close()
        await self.trim(time.monotonic())

    def excess(self) -> int:
        """How many idle connections (parked or pooled) there are beyond `keep`."""
        pooled = getattr(self._engine.sync_engine.pool, "checkedin", None)
        return len(self._idle) + (pooled() if pooled is not None else 0) - self._keep

    async def trim(self, now: float) -> None:
        """Close the oldest parked connections beyond `keep` that have been idle for `linger_s` by `now`; if some
        beyond `keep` are still lingering, make sure a timer closes them when their time is up, should no use
        case come by first (an idle process goes back to `keep` connections by itself)."""
        idle = self._idle
        while idle and self.excess() > 0 and now - idle[0][1] >= self._linger_s:
            await idle.pop(0)[0].close()
        if idle and self.excess() > 0 and self._trimmer is None and not self._closed:
            self._trimmer = asyncio.get_running_loop().create_task(self._trim_later())

    async def _trim_later(self) -> None:
        try:
            while self._idle and self.excess() > 0 and not self._closed:
                await asyncio.sleep(max(0.0, self._idle[0][1] + self._linger_s - time.monotonic()))
                idle = self._idle
                while idle and self.excess() > 0 and time.monotonic() - idle[0][1] >= self._linger_s:
                    await idle.pop(0)[0].close()
        finally:
            self._trimmer = None

    async def close(self) -> None:
        self._closed = True
        if self._trimmer is not None:
            self._trimmer.cancel()
        while self._idle:
            await self._idle.pop()[0].close()

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """One of the `max_active` turns, held for the block. A task holding one already goes on without a second
        (a use case inside another would otherwise wait for itself once every turn is held that way)."""
        if self._max_active is None or _HOLDING.get() is self:
            yield
            return
        turns = self._semaphore()
        await turns.acquire()
        holding = _HOLDING.set(self)
        try:
            yield
        finally:
            _HOLDING.reset(holding)
            turns.release()

    def _semaphore(self) -> asyncio.Semaphore:
        # One per event loop: a semaphore that has made a task wait belongs to that task's loop.
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Semaphore(self._max_active or 1))
        return self._turns[1]

    @asynccontextmanager
    async def core_transaction(self) -> AsyncIterator[UnitOfWork]:
        """`db.open_core_transaction` on PostgreSQL (which has no writer queue): a Core connection in a transaction,
        committed at the end of the block, rolled back on any exception."""
        async with self._turn():
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
        async with self._turn():
            connection = await self.acquire()
            clean = False
            try:
                driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
                async with psycopg_autocommit(connection, driver) as unit:
                    yield unit
                clean = True
            finally:
                await self.release(connection, clean=clean)


def _pool_exhausted(engine: AsyncEngine) -> bool:
    """Whether every connection the pool may open is checked out (parked ones included): a use case may be waiting
    in the pool for one, and it waits there, not here, so the connection in hand goes back to the pool for it."""
    pool = engine.sync_engine.pool
    size, max_overflow = getattr(pool, "size", None), getattr(pool, "_max_overflow", -1)
    if size is None or max_overflow < 0:  # a pool without a limit: nobody ever waits
        return False
    return pool.checkedout() >= size() + max_overflow  # type: ignore[attr-defined, no-any-return]


def _reusable(connection: AsyncConnection) -> bool:
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated or sync.in_transaction():
        return False
    raw = sync._dbapi_connection
    driver = None if raw is None else raw.driver_connection
    return driver is not None and not driver.closed and not driver.autocommit \
        and driver.pgconn.transaction_status == _IDLE

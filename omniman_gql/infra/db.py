"""Engines and ORM sessions, and the SQLite writer queue that lets this process's writers in one at a time."""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from ..settings import Settings
from .sqlite import create_sqlite_engine


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    """An async engine for the configured database, tuned for concurrent writers."""
    url = settings.async_database_url
    # A statement's values may be personal data (a customer's phone, e-mail, name): a database error logged or
    # kept as a directive's last_error names the statement, never what was bound to it.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_sqlite_engine(settings, **kwargs)
        _BUSY_TIMEOUT_S[engine.sync_engine] = settings.sqlite_busy_timeout_ms / 1000  # its writers queue (_writer_turn)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=pool_overflow(settings.database_pool_size),
        pool_pre_ping=False,
        **kwargs,
    )


def pool_overflow(pool_size: int) -> int:
    """Connections a PostgreSQL engine may open beyond its pool size."""
    return pool_size * 4


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


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
        raise OperationalError("BEGIN IMMEDIATE", None,
                               sqlite3.OperationalError("database is locked (writer queue)")) from None
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

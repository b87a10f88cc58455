"""Units of work on the database: a connection in a transaction or in autocommit, with its ORM session and statements.

The ORM session is made on first use; the statement sets are those of the database's dialect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from ..outages import classify, translated
from ..settings import Settings
from ..uow import UnitOfWork, Values
from .db import _writer_turn, pool_overflow, writer_turn
from .pg_connections import ParkedConnections, Turns
from .pg_direct import DirectConnection
from .sqlite import AUTOCOMMIT, READONLY
from .statements import StatementSets, statement_sets

AfterCommit = Callable[[UnitOfWork], Awaitable[None]]


class Database:
    """Opens the units of work of one engine. SQLite: this process's writers take turns (see `db._WriterQueue`).
    PostgreSQL: at most `database_max_active` units of work that may write at once (`Turns`), all on connections
    parked between them (`ParkedConnections`), their statement sets' statements sent by psycopg directly when
    `accelerate` is on (`pg_direct`)."""

    def __init__(self, engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession],
                 settings: Settings) -> None:
        self.engine = engine
        self.session_factory = session_factory
        self.statements: StatementSets = statement_sets(engine.dialect.name)
        self.postgresql = engine.dialect.name == "postgresql"
        self.direct = self.postgresql and settings.accelerate
        self.parked: ParkedConnections | None = None
        self.turns: Turns | None = None
        if self.postgresql:
            size = settings.database_pool_size
            self.parked = ParkedConnections(engine, keep=size, limit=size + pool_overflow(size))
            self.turns = Turns(settings.database_max_active)

    def unit(self, *, readonly: bool = False, autocommit: bool = False,
             after_commit: AfterCommit | None = None) -> AbstractAsyncContextManager[SqlUnitOfWork]:
        """A unit of work: a transaction committed at the end of the block and rolled back on any exception (a
        read-only one when `readonly`), or with `autocommit` no transaction at all (each statement commits by
        itself: no BEGIN and COMMIT round trips, and SQLite's write lock held for one statement only). Once it has
        committed and given its connection back, `after_commit(uow)` runs."""
        if readonly and autocommit:
            raise ValueError("an autocommit unit of work has no read-only form")
        if self.postgresql:
            return self._postgresql(readonly, autocommit, after_commit)
        return self._sqlite(readonly, autocommit, after_commit)

    @asynccontextmanager
    async def _postgresql(self, readonly: bool, autocommit: bool,
                          after_commit: AfterCommit | None) -> AsyncIterator[SqlUnitOfWork]:
        try:
            turns, parked = self.turns, self.parked
            assert turns is not None and parked is not None
            # A read-only unit takes no turn: a writer holding one may be waiting for a read to finish.
            taken = None if readonly else await turns.acquire()
            try:
                connection = await parked.acquire()
                clean = False
                try:
                    uow = SqlUnitOfWork(self, connection, readonly=readonly, autocommit=autocommit)
                    if autocommit:
                        async with _psycopg_autocommit(connection):
                            try:
                                yield uow
                                await uow.flush()
                            finally:
                                await uow.close_session()
                            # Ends the transaction SQLAlchemy began for a statement it ran (psycopg committed each one).
                            if connection.in_transaction():
                                await connection.commit()
                    else:
                        async with connection.begin():
                            try:
                                yield uow
                                await uow.flush()
                            finally:
                                await uow.close_session()
                    clean = True
                finally:
                    await parked.release(connection, clean=clean)
            finally:
                turns.release(taken)
        except Exception as exc:
            outage = classify(exc)
            if outage is not None and not outage.busy and self.parked is not None:
                await self.parked.discard()
            _raise_if_outage(exc)
            raise
        if after_commit is not None:
            await after_commit(uow)

    @asynccontextmanager
    async def _sqlite(self, readonly: bool, autocommit: bool,
                      after_commit: AfterCommit | None) -> AsyncIterator[SqlUnitOfWork]:
        try:
            # An autocommit unit takes the writer turn per write statement (SqlUnitOfWork.execute), not for the block.
            async with _writer_turn(self.session_factory, readonly=readonly or autocommit) as end_turn, \
                    self.engine.connect() as connection:
                if readonly:
                    _set_option(connection, READONLY)
                uow = SqlUnitOfWork(self, connection, readonly=readonly, autocommit=autocommit)
                try:
                    if autocommit:
                        _set_option(connection, AUTOCOMMIT)
                        try:
                            yield uow
                            await uow.flush()
                        finally:
                            await uow.close_session()
                        if connection.in_transaction():  # SQLAlchemy's bookkeeping only: no BEGIN was sent
                            await connection.commit()
                    else:
                        async with connection.begin():
                            try:
                                yield uow
                                await uow.flush()
                            finally:
                                await uow.close_session()
                finally:
                    end_turn()  # committed or rolled back: the next writer may go while this connection closes
        except Exception as exc:
            _raise_if_outage(exc)
            raise
        if after_commit is not None:
            await after_commit(uow)

    async def dispose(self) -> None:
        if self.parked is not None:
            await self.parked.close()


def _raise_if_outage(exc: Exception) -> None:
    # What the adapters answer as UNAVAILABLE (and the client may retry) instead of a masked internal error.
    outage = translated(exc)
    if outage is not None:
        raise outage from exc


def _set_option(connection: AsyncConnection, name: str) -> None:
    # As `await connection.execution_options(name=True)`, which runs the same pure-Python method in a greenlet of its
    # own: our options need no I/O (the dialect ignores them; sqlite._on_begin reads them).
    connection.sync_connection.execution_options(**{name: True})  # type: ignore[union-attr]


@asynccontextmanager
async def _psycopg_autocommit(connection: AsyncConnection) -> AsyncIterator[None]:
    """psycopg's own autocommit switch, on for the block and back off (SQLAlchemy's isolation_level option does the
    same through its dialect and its pool's reset machinery, at more CPU per use)."""
    driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    await driver.set_autocommit(True)
    try:
        yield
    finally:
        try:
            await driver.set_autocommit(False)
        except BaseException:
            await connection.invalidate()  # never hand an autocommit connection back to the pool
            raise


class SqlUnitOfWork(UnitOfWork):
    """A unit of work on a SQLAlchemy connection."""

    __slots__ = ("_commits", "_database", "_direct", "_orders", "_rows", "_session", "_sessions", "connection")

    def __init__(self, database: Database, connection: AsyncConnection, *, readonly: bool, autocommit: bool) -> None:
        super().__init__(readonly=readonly, autocommit=autocommit)
        self.connection = connection
        self._database = database
        self._session: AsyncSession | None = None
        self._direct: DirectConnection | None = None
        self._sessions: Any = None
        self._commits: Any = None
        self._orders: Any = None
        self._rows: Any = None

    @property
    def db(self) -> AsyncSession:
        """An ORM session on this unit's connection and in its transaction (flushed before COMMIT). In an autocommit
        unit, for reads."""
        session = self._session
        if session is None:
            session = self._session = self._database.session_factory(
                bind=self.connection, join_transaction_mode="rollback_only")
        return session

    async def execute(self, statement: Any, values: Values | Any = None) -> Any:
        """`statement` with `values` (a list of them: executemany) through SQLAlchemy, on this unit's connection. On
        SQLite, an autocommit unit's INSERT, UPDATE or DELETE waits for this process's writer turn."""
        if self.autocommit and not self._database.postgresql and statement.is_dml:
            async with writer_turn(self._database.session_factory):
                return await self.connection.execute(statement, values)
        return await self.connection.execute(statement, values)

    async def run(self, statement: Any, values: Values) -> Any:
        """`execute` for the statement sets: sent by psycopg directly where the accelerator is on (see pg_direct)."""
        if not self._database.direct:
            return await self.execute(statement, values)
        direct = self._direct
        if direct is None:
            direct = self._direct = DirectConnection(self.connection)
        return await direct.execute(statement, values)

    async def flush(self) -> None:
        if self._session is not None:
            await self._session.flush()

    async def close_session(self) -> None:
        # With join_transaction_mode="rollback_only" closing leaves the connection's transaction to this unit.
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @property
    def sessions(self) -> Any:  # type: ignore[override]
        found = self._sessions
        if found is None:
            found = self._sessions = self._database.statements.sessions(self)
        return found

    @property
    def commits(self) -> Any:  # type: ignore[override]
        found = self._commits
        if found is None:
            found = self._commits = self._database.statements.commits(self)
        return found

    @property
    def orders(self) -> Any:  # type: ignore[override]
        found = self._orders
        if found is None:
            found = self._orders = self._database.statements.orders(self)
        return found

    @property
    def rows(self) -> Any:  # type: ignore[override]
        found = self._rows
        if found is None:
            found = self._rows = self._database.statements.rows(self)
        return found

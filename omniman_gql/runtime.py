"""The Hub: one object holding what every use case needs (settings, database, registry, dispatcher, publisher)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from .infra.db import (
    UnitOfWork,
    create_engine,
    create_session_factory,
    open_autocommit,
    open_connection,
    open_core_transaction,
    open_transaction,
    writer_turn,
)
from .infra.pg_connections import ParkedConnections
from .protocols import DirectiveDispatcher, EventPublisher
from .registry import Registry, build_registry
from .settings import Settings

log = logging.getLogger(__name__)


class NullDispatcher:
    """Leaves directives queued in the database (for the sweeper, or for tests that run them by hand)."""

    async def dispatch(self, directive_ids: Sequence[int]) -> None:
        return None


class NullPublisher:
    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        return None


@dataclass
class Hub:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    registry: Registry
    dispatcher: DirectiveDispatcher = field(default_factory=NullDispatcher)
    publisher: EventPublisher = field(default_factory=NullPublisher)
    # PostgreSQL: the Core connections of `core_transaction` and `autocommit`, parked between use cases (made on
    # first use; False on other databases).
    _parked: ParkedConnections | bool | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def create(cls, settings: Settings, *, registry: Registry | None = None, **kwargs: Any) -> Hub:
        engine = create_engine(settings)
        return cls(settings=settings, engine=engine, session_factory=create_session_factory(engine),
                   registry=registry or build_registry(settings), **kwargs)

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[UnitOfWork]:
        """One use case's transaction; once it has committed, new directives are dispatched and events published."""
        async with open_transaction(self.session_factory, readonly=readonly) as uow:
            yield uow
        await self._after_commit(uow)

    @asynccontextmanager
    async def core_transaction(self) -> AsyncIterator[UnitOfWork]:
        """As `transaction`, with a Core connection as `uow.db` (no ORM session): for the checkout's hot paths."""
        parked = self._parked_connections()
        async with (parked.core_transaction() if parked else open_core_transaction(self.session_factory)) as uow:
            yield uow
        await self._after_commit(uow)

    @asynccontextmanager
    async def autocommit(self, *, write: bool = False) -> AsyncIterator[UnitOfWork]:
        """As `core_transaction`, but each statement commits by itself (see `db.open_autocommit`); after-commit
        work runs once the block is done."""
        parked = self._parked_connections()
        async with (parked.autocommit() if parked else open_autocommit(self.session_factory, write=write)) as uow:
            yield uow
        await self._after_commit(uow)

    def _parked_connections(self) -> ParkedConnections | None:
        parked = self._parked
        if parked is None:
            parked = self._parked = (self.engine.dialect.name == "postgresql"
                                     and ParkedConnections(self.engine, keep=self.settings.database_pool_size,
                                                         linger_s=self.settings.database_linger_s,
                                                         max_active=self.settings.database_max_active))
        return parked or None

    def writer_turn(self) -> AbstractAsyncContextManager[None]:
        """This process's SQLite writer queue (a no-op on PostgreSQL): for one write on an autocommit connection."""
        return writer_turn(self.session_factory)

    def connection(self, *, readonly: bool = False) -> AbstractAsyncContextManager[AsyncConnection]:
        """A Core transaction with no ORM session and no after-commit work (nothing to dispatch or publish): for
        hot paths made of a statement or two."""
        return open_connection(self.session_factory, readonly=readonly)

    async def _after_commit(self, uow: UnitOfWork) -> None:
        # Failures here are logged, never raised: the change is committed, and the sweeper and cursor replay
        # recover anything the broker or pub/sub lost.
        if uow.directive_ids:
            try:
                await self.dispatcher.dispatch(list(uow.directive_ids))
            except Exception:
                log.exception("dispatching directives %s failed; the sweeper will pick them up", uow.directive_ids)
        if uow.messages:
            await self._publish(uow.messages)
        for hook in uow.after_commit:
            try:
                result = hook()
                if hasattr(result, "__await__"):
                    await result
            except Exception:
                log.exception("after-commit hook failed")

    async def _publish(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        # A publisher that takes a batch (the pub/subs) gets the transaction's messages at once: one Redis round
        # trip instead of one per message (a checkout's commit announces its event and its session), same order.
        publish_many = getattr(self.publisher, "publish_many", None)
        if publish_many is not None and len(messages) > 1:
            try:
                await publish_many(messages)
            except Exception:
                log.exception("publishing to %s failed; subscribers will catch up from the database",
                              sorted({topic for topic, _ in messages}))
            return
        for topic, message in messages:
            try:
                await self.publisher.publish(topic, message)
            except Exception:
                log.exception("publishing to %s failed; subscribers will catch up from the database", topic)

    async def dispose(self) -> None:
        if isinstance(self._parked, ParkedConnections):
            await self._parked.close()
        await self.engine.dispose()

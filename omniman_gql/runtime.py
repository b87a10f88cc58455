"""The Hub: one object holding what every use case needs (settings, database, registry, dispatcher, publisher)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .infra.db import create_engine, create_session_factory
from .infra.units import Database
from .outages import logged_outage
from .protocols import DirectiveDispatcher, EventPublisher
from .registry import Registry, build_registry
from .settings import Settings
from .uow import UnitOfWork

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
    database: Database = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.database = Database(self.engine, self.session_factory, self.settings)
        # A backend that keeps its state in the hub's database (the mock gateway's intents) gets the hub.
        attach = getattr(self.registry.payment, "attach", None)
        if attach is not None:
            attach(self)

    @classmethod
    def create(cls, settings: Settings, *, registry: Registry | None = None, **kwargs: Any) -> Hub:
        engine = create_engine(settings)
        return cls(settings=settings, engine=engine, session_factory=create_session_factory(engine),
                   registry=registry or build_registry(settings), **kwargs)

    def transaction(self, *, readonly: bool = False, autocommit: bool = False
                    ) -> AbstractAsyncContextManager[UnitOfWork]:
        """The one way a use case gets at the database: a unit of work, committed at the end of the block and rolled
        back on any exception; once it has committed, its directives are dispatched and its events published.

        - `readonly=True`: nothing will be written (SQLite: a plain BEGIN, no wait for the writer turn).
        - `autocommit=True`: no transaction around the statements, each commits by itself; for a use case made of
          one write, or of reads that need no common snapshot followed by one conditional write. Its after-commit
          work runs once the block is done.
        """
        return self.database.unit(readonly=readonly, autocommit=autocommit, after_commit=self._after_commit)

    async def _after_commit(self, uow: UnitOfWork) -> None:
        # Failures here are logged, never raised: the change is committed, and the sweeper and cursor replay
        # recover anything the broker or pub/sub lost.
        if uow.directive_ids:
            try:
                await self.dispatcher.dispatch(list(uow.directive_ids))
            except Exception as exc:
                if not logged_outage(exc, "dispatching directives; the sweeper will send them"):
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
            except Exception as exc:
                if not logged_outage(exc, "publishing live events; subscribers will catch up"):
                    log.exception("publishing to %s failed; subscribers will catch up from the database",
                                  sorted({topic for topic, _ in messages}))
            return
        for topic, message in messages:
            try:
                await self.publisher.publish(topic, message)
            except Exception as exc:
                if not logged_outage(exc, "publishing live events; subscribers will catch up"):
                    log.exception("publishing to %s failed; subscribers will catch up from the database", topic)

    async def dispose(self) -> None:
        await self.database.dispose()
        await self.engine.dispose()


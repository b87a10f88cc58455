"""The unit of work as use cases see it: one transaction (or autocommit block), its statements, its after-commit work.

A use case gets one from `Hub.transaction(...)` and never opens a connection, picks a driver or looks at the
database's dialect itself: what differs between SQLite and PostgreSQL (one-statement commits, `ON CONFLICT`, lock
timeouts) is behind the statement sets below, implemented in `omniman_gql.infra`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .domain.draft import PriceQuote
    from .models.rows import ChannelRow, SessionRow

Values = Mapping[str, Any]


class LockWaitTimeout(Exception):
    """A statement waited for a lock longer than its unit of work allows (`lock_wait_ms`)."""


@dataclass(slots=True)
class DoneKey:
    """A commit's idempotency key, recorded as `done` by `OrderStatements.create` with the order. `sent`: the
    statement carrying it was sent (a LockWaitTimeout from then on is the key's: a concurrent commit holds it);
    `recorded`: None until it went in, then whether it was recorded (False: the key exists already)."""

    scope: str
    key: str
    recorded: bool | None = None
    sent: bool = False


class SessionStatements(Protocol):
    async def read(self, channel_code: str, session_key: str, *, lock: bool) -> tuple[SessionRow, ChannelRow] | None:
        """The session (locked for update when `lock`) with its channel's rules; None when there is none."""

    async def read_with_prices(
        self, channel_code: str, session_key: str, skus: Sequence[str]
    ) -> tuple[SessionRow, ChannelRow, dict[str, PriceQuote] | None] | None:
        """`read` without a lock, plus the price table's quotes of the session's line SKUs and of `skus` when the
        database reads them in the same statement (an internally priced session); else None for the quotes."""

    async def channel(self, code: str) -> ChannelRow | None:
        """The channel's rules."""

    async def insert_open(self, values: Values) -> tuple[int, str, str] | None:
        """Insert a new open session (`values`: every column but the policies) with its channel's policies, if the
        channel is active and no session holds the key or the open handle: (id, pricing_policy, edit_policy)."""

    async def write_draft(self, session_id: int, rev: int, *, items: Any, data: Any, pricing: Any,
                          pricing_trace: Any, now: dt.datetime) -> bool:
        """Store a draft as rev + 1 if the session is still open at `rev`; whether it was stored."""


class CommitStatements(Protocol):
    async def seal_open(self, channel_code: str, session_key: str, *, now: dt.datetime, token: str,
                        lock_wait_ms: int) -> tuple[SessionRow, ChannelRow] | None:
        """Lock the session if it is open and mark it committed: the sealed session and its channel, or None. Lock
        waits later in the transaction are bounded by `lock_wait_ms` (LockWaitTimeout) where the database waits."""

    async def claim_key(self, scope: str, key: str, *, session_key: str, now: dt.datetime, lock_wait_ms: int) -> bool:
        """Insert the key as `in_progress`; False when it exists. Waiting for a concurrent holder of the key longer
        than `lock_wait_ms` raises LockWaitTimeout."""

    async def key_record(self, scope: str, key: str) -> Any:
        """The key's record (`session_key`, `status`, `result`), locked."""

    async def finish_key(self, scope: str, key: str, *, result: Values, now: dt.datetime) -> None: ...

    async def record_done_key(self, scope: str, key: str, *, session_key: str, result: Values,
                              now: dt.datetime) -> bool:
        """Insert the key as `done` with `result`; False when it exists (LockWaitTimeout as `claim_key`)."""

    async def seal(self, session_id: int, *, now: dt.datetime, token: str) -> None:
        """Mark a locked session committed."""

    async def order_by_ref(self, ref: str) -> Any: ...

    async def order_of_session(self, channel_code: str, session_key: str) -> Any: ...


class OrderStatements(Protocol):
    async def create(self, order: Values, lines: Sequence[Values], events: Sequence[Values], *,
                     done_key: DoneKey | None = None, close_refs: bool = False) -> tuple[int, list[int]]:
        """Insert an order (`order`: its columns), its lines and its events (their columns but `order_id`), in
        order: (the order's id, the events' ids). `done_key`: also the commit's key, recorded as done with the
        commit's result (see DoneKey). `close_refs`: also move or end its session's refs (see
        `models.ref.closing_refs`)."""


class RowStatements(Protocol):
    async def insert_new(self, table: Any, values: Values) -> int | None:
        """INSERT one row unless a unique constraint already holds an equal one: its new id, or None."""

    async def insert_missing(self, table: Any, rows: Sequence[Values]) -> None:
        """INSERT the rows no unique constraint already holds (concurrent callers meet on the constraint)."""

    async def insert_returning_ids(self, table: Any, rows: Sequence[Values]) -> list[int]:
        """INSERT rows; their new ids, in order."""

    async def increment(self, table: Any, keys: Values, column: str) -> int:
        """Add 1 to `column` of the row `keys` names (created at 1 if missing), in one statement that locks the row
        until the transaction ends: its new value."""


class UnitOfWork:
    """One use case's transaction, or autocommit block, and what must happen once it has committed.

    - `execute(statement, values)`: a Core statement on the unit's connection.
    - `db`: an ORM session on that same connection (made on first use).
    - `sessions`, `commits`, `orders`, `rows`: the statements whose SQL depends on the database.
    - `publish`, `directive_ids`, `after_commit`: sent, dispatched or run only after COMMIT.
    """

    __slots__ = ("after_commit", "autocommit", "directive_ids", "messages", "readonly")

    sessions: SessionStatements
    commits: CommitStatements
    orders: OrderStatements
    rows: RowStatements

    def __init__(self, *, readonly: bool = False, autocommit: bool = False) -> None:
        self.readonly = readonly
        self.autocommit = autocommit
        self.directive_ids: list[int] = []
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.after_commit: list[Callable[[], Any]] = []

    @property
    def db(self) -> AsyncSession:
        raise NotImplementedError

    async def execute(self, statement: Any, values: Values | Sequence[Values] | None = None) -> Any:
        raise NotImplementedError

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Queue a live-event message, sent only if the unit of work commits."""
        self.messages.append((topic, message))

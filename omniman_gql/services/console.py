"""Use cases the operator console needs (open to every client): re-run checks, run a directive now, a channel's
history, an idempotency key's record, and the directive alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.orm import Mapped
from sqlmodel import col

from ..domain.channel_config import check_topic_for
from ..errors import ErrorCode, OmnimanError
from ..models import ChannelRevision, Directive, IdempotencyKey, Session, utcnow
from ..runtime import Hub
from .common import ensure_session_open, get_channel, lock_session
from .outbox import enqueue_many

MAX_HISTORY = 100
RUNNABLE = ("queued", "failed")
_DIRECTIVE_ID = cast("Mapped[int]", col(Directive.id))


async def run_checks(hub: Hub, *, channel_code: str, session_key: str, actor: str = "system") -> Session:
    """Enqueue the channel's required checks for the session's current rev again (a stock check after a restock,
    a check whose directive failed). The rev does not move: results written back at this rev replace the old ones.
    A channel without required checks has nothing to run; the session is answered as it is.

    Errors: not_found, already_committed, already_abandoned.
    """
    async with hub.transaction() as uow:
        session, channel = await lock_session(uow.db, channel_code, session_key)
        ensure_session_open(session)
        required = channel.config.get("required_checks_on_commit") or []
        payload = {"session_key": session.session_key, "channel_code": channel_code, "rev": session.rev,
                   "items": session.items}
        await enqueue_many(uow, [(check_topic_for(channel.config, code), {**payload, "check": code})
                                 for code in required])
    return session


async def run_directive_now(hub: Hub, *, directive_id: int) -> Directive:
    """Make a `queued` (e.g. waiting out a back-off) or `failed` directive due now, and dispatch it after commit.

    It is not run here: the dispatch goes through the claim like every delivery, and the claim is a conditional
    UPDATE (`queued` and due → `running`) only one caller can win, so pressing "run now" twice, or while a worker or
    the sweeper sends it too, runs it once. A `running` directive is refused: its holder's lease decides its fate
    (see leases.py), and re-queuing it would let a second worker run it beside the first.

    Errors: not_found, directive_not_runnable (it is running or done).
    """
    async with hub.transaction() as uow:
        row = (await uow.db.execute(
            select(Directive).where(_DIRECTIVE_ID == directive_id).with_for_update())).scalar_one_or_none()
        if row is None:
            raise OmnimanError(ErrorCode.NOT_FOUND, f"No directive {directive_id}.", field=("id",),
                               context={"id": directive_id})
        if row.status not in RUNNABLE:
            raise OmnimanError(ErrorCode.DIRECTIVE_NOT_RUNNABLE,
                               f"Directive {directive_id} is {row.status!r}; only queued or failed directives can "
                               "run now.", field=("id",), context={"id": directive_id, "status": row.status})
        now = utcnow()
        row.status, row.available_at, row.updated_at = "queued", now, now
        await uow.db.flush()
        uow.directive_ids.append(directive_id)
    return row


async def channel_history(hub: Hub, *, channel_code: str, first: int = 25) -> Sequence[ChannelRevision]:
    """The channel's recorded changes, newest first (at most `first`, capped at MAX_HISTORY).

    Errors: invalid_input (`first` out of range).
    """
    if not 1 <= first <= MAX_HISTORY:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`first` must be 1 to {MAX_HISTORY}.", field=("first",))
    async with hub.transaction(readonly=True) as uow:
        return (await uow.db.execute(
            select(ChannelRevision).where(col(ChannelRevision.channel_code) == channel_code)
            .order_by(col(ChannelRevision.id).desc()).limit(first))).scalars().all()


@dataclass(frozen=True)
class KeyInfo:
    """An idempotency key's record as an operator sees it."""

    key: str
    status: str
    order_ref: str | None
    session_key: str
    created_at: dt.datetime
    expires_at: dt.datetime


async def idempotency_key_info(hub: Hub, *, channel_code: str, key: str) -> KeyInfo | None:
    """The commit record of `key` on the channel (commits are idempotent per channel), or None.

    Errors: not_found (no such channel).
    """
    async with hub.transaction(readonly=True) as uow:
        await get_channel(uow.db, channel_code)
        row = (await uow.db.execute(select(IdempotencyKey).where(
            col(IdempotencyKey.scope) == f"commit:{channel_code}", col(IdempotencyKey.key) == key)
        )).scalar_one_or_none()
    if row is None:
        return None
    ref = (row.result or {}).get("order_ref")
    return KeyInfo(key=row.key, status=row.status, order_ref=str(ref) if ref else None, session_key=row.session_key,
                   created_at=row.created_at, expires_at=row.created_at + hub.settings.idempotency_key_ttl)


@dataclass(frozen=True)
class DirectiveAlerts:
    failed: int
    overdue: int  # queued, due, and waiting longer than the threshold
    oldest_due_since: dt.datetime | None  # the `available_at` of the longest-waiting due queued directive
    threshold_minutes: int

    @property
    def alerting(self) -> bool:
        return self.failed > 0 or self.overdue > 0


async def directive_alerts(hub: Hub) -> DirectiveAlerts:
    """What an operator must look at: failed directives, and queued ones due for longer than
    `console_queued_alert_minutes` (no worker is taking them: the broker or the workers are down or swamped). A
    directive waiting out its back-off is not overdue: it is not due yet."""
    minutes = hub.settings.console_queued_alert_minutes
    now = utcnow()
    async with hub.transaction(readonly=True) as uow:
        failed = (await uow.db.execute(select(func.count()).select_from(Directive).where(
            col(Directive.status) == "failed"))).scalar_one()
        oldest = (await uow.db.execute(select(func.min(col(Directive.available_at))).where(
            col(Directive.status) == "queued", col(Directive.available_at) <= now))).scalar_one()
        overdue = (await uow.db.execute(select(func.count()).select_from(Directive).where(
            col(Directive.status) == "queued",
            col(Directive.available_at) <= now - dt.timedelta(minutes=minutes)))).scalar_one()
    return DirectiveAlerts(failed=int(failed), overdue=int(overdue), oldest_due_since=oldest,
                           threshold_minutes=minutes)

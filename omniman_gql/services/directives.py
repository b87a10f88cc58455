"""The directive lifecycle: claim, run, complete, back off, fail, revive, and the sweeper's queries."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, bindparam, select, update

from ..errors import ErrorCode, OmnimanError
from ..models import Directive, utcnow
from ..runtime import Hub

log = logging.getLogger("omniman.directives")

MAX_ERROR_CHARS = 2000


class DirectiveFailed(Exception):
    """Raised by a handler when retrying cannot help (a declined card, a missing intent): the directive fails now."""


@dataclass(frozen=True)
class RunOutcome:
    """What one delivery of a directive id did. `retry_in_ms` is set when the directive should be sent again later."""

    directive_id: int
    status: str  # "done" | "queued" (backing off) | "failed" | "skipped" (someone else has it, or it is finished)
    retry_in_ms: int | None = None
    # Set when this delivery claimed the directive (a run), for logs and metrics; not part of the outcome's value.
    topic: str = field(default="", compare=False)
    attempts: int = field(default=0, compare=False)


def backoff_ms(hub: Hub, attempts: int) -> int:
    """Exponential: base × 2^(attempts−1), capped."""
    settings = hub.settings
    return int(min(settings.directive_backoff_max_ms, settings.directive_backoff_ms * 2 ** max(0, attempts - 1)))


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


# A worker runs claim and complete for every directive: built once (statement construction and its cache key cost
# more than the execution), sent as Core on the connection with bound values.
_TABLE = Directive.__table__
_CLAIM = (update(_TABLE)
          .where(_TABLE.c.id == bindparam("claim_id"), _TABLE.c.status == "queued",
                 _TABLE.c.available_at <= bindparam("claim_now"))
          .values(status="running", attempts=_TABLE.c.attempts + 1, started_at=bindparam("claim_now"),
                  updated_at=bindparam("claim_now"))
          .returning(*_TABLE.c))
_COMPLETE = (update(_TABLE)
             .where(_TABLE.c.id == bindparam("run_id"), _TABLE.c.status == "running",
                    _TABLE.c.attempts == bindparam("run_attempts"))
             .values(status="done", last_error="", updated_at=bindparam("done_at")))


async def claim(hub: Hub, directive_id: int) -> Directive | None:
    """Take a due, queued directive for this caller (→ running, attempts + 1). A conditional UPDATE decides, so of
    any number of concurrent callers exactly one gets the row; the others get None."""
    async with hub.connection() as connection:
        row = (await connection.execute(_CLAIM, {"claim_id": directive_id, "claim_now": utcnow()})).mappings().one_or_none()
    return Directive(**row) if row is not None else None


def _still_ours(directive: Directive) -> ColumnElement[bool]:
    # The attempt number fences a run: after a reclaim another worker holds a higher attempt, and a slow first run
    # must not overwrite what the newer one recorded.
    table = Directive.__table__
    return and_(table.c.id == directive.id, table.c.status == "running", table.c.attempts == directive.attempts)


async def complete(hub: Hub, directive: Directive) -> bool:
    """Mark a claimed directive `done`. Returns False if the claim was lost (reclaimed meanwhile)."""
    async with hub.connection() as connection:
        result = await connection.execute(
            _COMPLETE, {"run_id": directive.id, "run_attempts": directive.attempts, "done_at": utcnow()})
        return bool(result.rowcount)


async def fail_or_backoff(hub: Hub, directive: Directive, error: str, *, permanent: bool = False) -> RunOutcome:
    """Record a failed attempt: back to `queued` at `now + backoff`, or `failed` once the attempts are used up (or
    when `permanent`). `last_error` keeps the reason either way."""
    now = utcnow()
    final = permanent or directive.attempts >= hub.settings.directive_max_attempts
    delay = None if final else backoff_ms(hub, directive.attempts)
    values: dict[str, object] = {"last_error": error[:MAX_ERROR_CHARS], "updated_at": now}
    if final:
        values["status"] = "failed"
    else:
        values.update(status="queued", available_at=now + dt.timedelta(milliseconds=delay or 0))
    async with hub.transaction() as uow:
        result = await uow.db.execute(update(Directive).where(_still_ours(directive)).values(**values))
    if not result.rowcount:  # type: ignore[attr-defined]
        return RunOutcome(directive.id or 0, "skipped", topic=directive.topic, attempts=directive.attempts)
    return RunOutcome(directive.id or 0, "failed" if final else "queued", delay, topic=directive.topic,
                      attempts=directive.attempts)


async def retry_directive(hub: Hub, *, directive_id: int) -> Directive:
    """Revive a `failed` directive (admin): back to `queued`, due now, and dispatched after commit. It gets one more
    attempt per revive; `attempts` keeps counting so the history stays visible.

    Errors: not_found, directive_not_runnable (the directive is not `failed`).
    """
    async with hub.transaction() as uow:
        row = (await uow.db.execute(
            select(Directive).where(Directive.id == directive_id).with_for_update())).scalar_one_or_none()
        if row is None:
            raise OmnimanError(ErrorCode.NOT_FOUND, f"No directive {directive_id}.", field=("id",),
                               context={"id": directive_id})
        if row.status != "failed":
            raise OmnimanError(ErrorCode.DIRECTIVE_NOT_RUNNABLE,
                               f"Directive {directive_id} is {row.status!r}; only failed directives can be retried.",
                               field=("id",), context={"id": directive_id, "status": row.status})
        now = utcnow()
        row.status = "queued"
        row.available_at = now
        row.updated_at = now
        await uow.db.flush()
        uow.directive_ids.append(directive_id)
    return row


async def due_ids(hub: Hub, *, idle_for: dt.timedelta = dt.timedelta(0), limit: int = 500) -> list[int]:
    """Queued directives that are due and have not been touched for `idle_for`; their `updated_at` is bumped, so
    a sweeper re-sends each one at most once per `idle_for` however long the backlog is."""
    now = utcnow()
    async with hub.transaction() as uow:
        candidates = (await uow.db.execute(
            select(Directive.id)
            .where(Directive.status == "queued", Directive.available_at <= now, Directive.updated_at <= now - idle_for)
            .order_by(Directive.available_at, Directive.id)
            .limit(limit)
        )).scalars().all()
        if not candidates:
            return []
        result = await uow.db.execute(
            update(Directive).where(Directive.id.in_(candidates), Directive.status == "queued")  # type: ignore[union-attr]
            .values(updated_at=now).returning(Directive.id)
        )
        return sorted(result.scalars().all())


async def reclaim_stuck(hub: Hub, *, limit: int = 500) -> tuple[list[int], list[int]]:
    """`running` directives older than the running timeout (their worker died or hung): back to `queued`, or
    `failed` when they have used up their attempts. Returns (requeued ids, failed ids)."""
    settings = hub.settings
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=settings.directive_running_timeout_s)
    note = f"still running after {settings.directive_running_timeout_s}s (worker lost?); reclaimed"
    async with hub.transaction() as uow:
        stuck = (await uow.db.execute(
            select(Directive.id, Directive.attempts)
            .where(Directive.status == "running", Directive.started_at < cutoff)
            .order_by(Directive.id).limit(limit)
        )).all()
        requeue = [i for i, attempts in stuck if attempts < settings.directive_max_attempts]
        fail = [i for i, attempts in stuck if attempts >= settings.directive_max_attempts]
        guard = (Directive.status == "running", Directive.started_at < cutoff)
        requeued: list[int] = []
        failed: list[int] = []
        if requeue:
            requeued = list((await uow.db.execute(
                update(Directive).where(Directive.id.in_(requeue), *guard)  # type: ignore[union-attr]
                .values(status="queued", available_at=now, updated_at=now, last_error=note)
                .returning(Directive.id))).scalars())
        if fail:
            failed = list((await uow.db.execute(
                update(Directive).where(Directive.id.in_(fail), *guard)  # type: ignore[union-attr]
                .values(status="failed", updated_at=now, last_error=note)
                .returning(Directive.id))).scalars())
    if requeued or failed:
        log.warning("reclaimed stuck directives: requeued %s, failed %s", requeued, failed)
    return sorted(requeued), sorted(failed)


async def _not_yet(hub: Hub, directive_id: int) -> RunOutcome:
    """The claim failed: tell apart "due later" (a delayed message that arrived early) from "not ours"."""
    async with hub.transaction(readonly=True) as uow:
        row = (await uow.db.execute(
            select(Directive.status, Directive.available_at).where(Directive.id == directive_id))).one_or_none()
    if row is not None and row[0] == "queued":
        wait = int((row[1] - utcnow()).total_seconds() * 1000) + 1
        if wait > 0:
            return RunOutcome(directive_id, "queued", wait)
    return RunOutcome(directive_id, "skipped")


async def run_directive(hub: Hub, directive_id: int) -> RunOutcome:
    """One delivery of a directive id: claim → the topic's handler → `done`, or a recorded failure with backoff.

    Duplicated deliveries are harmless: only the caller that wins the claim runs the handler. An unknown topic fails
    the directive at once, with a `last_error` that names it.
    """
    directive = await claim(hub, directive_id)
    if directive is None:
        return await _not_yet(hub, directive_id)
    handler = hub.registry.handlers.get(directive.topic)
    if handler is None:
        known = ", ".join(sorted(hub.registry.handlers)) or "none"
        return await fail_or_backoff(hub, directive, f"no handler for topic {directive.topic!r} (registered: {known})",
                                     permanent=True)
    try:
        await handler(hub, directive)
    except DirectiveFailed as exc:
        log.warning("directive %s (%s) failed for good: %s", directive_id, directive.topic, exc)
        return await fail_or_backoff(hub, directive, _error_text(exc), permanent=True)
    except Exception as exc:  # noqa: BLE001 - any handler failure is recorded on the row and retried
        log.warning("directive %s (%s) attempt %s failed: %s", directive_id, directive.topic, directive.attempts,
                    _error_text(exc), exc_info=log.isEnabledFor(logging.DEBUG))
        return await fail_or_backoff(hub, directive, _error_text(exc))
    if not await complete(hub, directive):
        return RunOutcome(directive_id, "skipped", topic=directive.topic, attempts=directive.attempts)
    return RunOutcome(directive_id, "done", topic=directive.topic, attempts=directive.attempts)


async def directives_of_order(hub: Hub, order_ref: str) -> Sequence[Directive]:
    """The directives caused by an order (post-commit and status-driven), oldest first."""
    async with hub.transaction(readonly=True) as uow:
        return (await uow.db.execute(
            select(Directive).where(Directive.order_ref == order_ref).order_by(Directive.id))).scalars().all()

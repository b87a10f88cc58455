"""The directive lifecycle: a delivery's run (claim, handlers, completion), back-off, failure, revival, sweeping."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Mapped
from sqlmodel import col

from ..errors import ErrorCode, OmnimanError
from ..models import Directive, utcnow
from ..runtime import Hub
from .claims import claim, claim_many, complete, complete_many, still_ours
from .leases import InHand, reclaim_stuck, renew_leases
from .outcomes import RunOutcome

__all__ = ["DirectiveFailed", "InHand", "RunOutcome", "backoff_ms", "claim", "claim_many", "complete",
           "complete_many", "directives_of_order", "due_ids", "fail_or_backoff", "reclaim_stuck", "renew_leases",
           "retry_directive", "run_directive", "run_directives", "shared_read"]

log = logging.getLogger("omniman.directives")

MAX_ERROR_CHARS = 2000
# Handlers of one delivery of several ids run this many at a time: overlapping their waits (a webhook, a row lock)
# without holding a pool connection per directive; a worker's threads each run a delivery, so the worker as a whole
# uses up to threads × this many connections.
BATCH_LANES = 4

T = TypeVar("T")
_MISSING = object()
# The primary key as statements read it back: never NULL in a row (the model's `int | None` is an instance's
# before it is inserted).
_DIRECTIVE_ID = cast("Mapped[int]", col(Directive.id))


class DirectiveFailed(Exception):
    """Raised by a handler when retrying cannot help (a declined card, a missing intent): the directive fails now."""


def backoff_ms(hub: Hub, attempts: int) -> int:
    """Exponential: base × 2^(attempts−1), capped."""
    settings = hub.settings
    return int(min(settings.directive_backoff_max_ms, settings.directive_backoff_ms * 2 ** max(0, attempts - 1)))


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


async def fail_or_backoff(hub: Hub, directive: Directive, error: str, *, permanent: bool = False) -> RunOutcome:
    """Record a failed attempt: back to `queued` at `now + backoff`, or `failed` once the attempts are used up (or
    when `permanent`). `last_error` keeps the reason either way."""
    now = utcnow()
    final = permanent or directive.attempts >= hub.settings.directive_max_attempts
    delay = None if final else backoff_ms(hub, directive.attempts)
    values: dict[str, object] = {"last_error": error[:MAX_ERROR_CHARS], "updated_at": now, "lease_expires_at": None}
    if final:
        values["status"] = "failed"
    else:
        values.update(status="queued", available_at=now + dt.timedelta(milliseconds=delay or 0))
    async with hub.transaction() as uow:
        # An UPDATE without RETURNING answers a CursorResult, whose rowcount says whether the claim still held
        # (SQLAlchemy types Session.execute as a plain Result: a session cannot promise it for every statement).
        result = cast("CursorResult[Any]",
                      await uow.db.execute(update(Directive).where(still_ours(directive)).values(**values)))
    if not result.rowcount:
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
            select(Directive).where(_DIRECTIVE_ID == directive_id).with_for_update())).scalar_one_or_none()
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
            select(_DIRECTIVE_ID)
            .where(col(Directive.status) == "queued", col(Directive.available_at) <= now,
                   col(Directive.updated_at) <= now - idle_for)
            .order_by(col(Directive.available_at), _DIRECTIVE_ID)
            .limit(limit)
            # Rows another transaction holds (a claim under way) are skipped, so the UPDATE below waits for no row
            # while holding others (see _CLAIM_MANY).
            .with_for_update(skip_locked=True)
        )).scalars().all()
        if not candidates:
            return []
        result = await uow.db.execute(
            update(Directive).where(_DIRECTIVE_ID.in_(candidates), col(Directive.status) == "queued")
            .values(updated_at=now).returning(_DIRECTIVE_ID)
        )
        return sorted(result.scalars().all())


# Reads a batch's handlers share (see `shared_read`): set for the duration of one `run_directives`.
# Values (prefetched) or futures (a first reader's read, awaited by the others).
_batch_reads: ContextVar[dict[Hashable, Any] | None] = ContextVar("omniman_batch_reads", default=None)


async def shared_read(key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
    """For handlers: within one delivery of several directives, `read()` runs once per `key` and its result is
    shared (e.g. a channel's settings, read by each of 50 notifications of one commit); outside a batch it just
    runs. The result is as fresh as the delivery: nothing is cached across deliveries."""
    reads = _batch_reads.get()
    if reads is None:
        return await read()
    entry = reads.get(key, _MISSING)
    if entry is _MISSING:
        entry = reads[key] = asyncio.ensure_future(read())
    elif not isinstance(entry, asyncio.Future):
        # A prefetched value: the handler's `prefetch` put it under the key its `read` reads (see claims._prefetch).
        return cast(T, entry)
    # Shielded: one handler being cancelled must not cancel the read its siblings wait for.
    return await asyncio.shield(entry)


async def _run_claimed(hub: Hub, directive: Directive, started: float) -> RunOutcome:
    """Run a claimed directive's handler. Status "done": it succeeded and awaits completion (see run_directives);
    else its failure, already recorded. `started`: when the delivery began (perf_counter), for the run's duration."""
    handler = hub.registry.handlers.get(directive.topic)
    directive_id = directive.id or 0
    if handler is None:
        known = ", ".join(sorted(hub.registry.handlers)) or "none"
        outcome = await fail_or_backoff(hub, directive,
                                        f"no handler for topic {directive.topic!r} (registered: {known})",
                                        permanent=True)
        return replace(outcome, duration_s=time.perf_counter() - started)
    try:
        await handler(hub, directive)
    except DirectiveFailed as exc:
        log.warning("directive %s (%s) failed for good: %s", directive_id, directive.topic, exc)
        outcome = await fail_or_backoff(hub, directive, _error_text(exc), permanent=True)
    except Exception as exc:  # any handler failure is recorded on the row and retried
        log.warning("directive %s (%s) attempt %s failed: %s", directive_id, directive.topic, directive.attempts,
                    _error_text(exc), exc_info=log.isEnabledFor(logging.DEBUG))
        outcome = await fail_or_backoff(hub, directive, _error_text(exc))
    else:
        outcome = RunOutcome(directive_id, "done", topic=directive.topic, attempts=directive.attempts)
    if outcome.status == "failed":
        await _on_failed(hub, handler, directive)
    return replace(outcome, duration_s=time.perf_counter() - started)


async def _on_failed(hub: Hub, handler: Any, directive: Directive) -> None:
    """A handler's `on_failed(hub, directive, reason)` hook, run once its directive has failed for good (e.g. a
    declined capture marks the order's payment `failed`). Its own failure is logged: the directive stays failed."""
    hook = getattr(handler, "on_failed", None)
    if hook is None:
        return
    async with hub.transaction(readonly=True) as uow:
        reason = (await uow.db.execute(select(col(Directive.last_error)).where(
            _DIRECTIVE_ID == directive.id))).scalar_one_or_none() or ""
    try:
        await hook(hub, directive, reason.removeprefix("DirectiveFailed: "))
    except Exception:
        log.exception("the on_failed hook of directive %s (%s) failed", directive.id, directive.topic)


async def run_directives(hub: Hub, directive_ids: Sequence[int], *, extra: int = 0, like: Sequence[int] | None = None,
                         running: InHand | None = None) -> list[RunOutcome]:
    """One delivery of several directive ids (e.g. all those one commit wrote): one claim for all, each claimed
    one's handler (up to BATCH_LANES at a time), one completion for those that succeeded. Returns an outcome per
    distinct id, in order, then one per other directive the claim took with `extra` (see claim_many; with no ids,
    only those, of the topics of `like`).

    Each directive keeps its own fate, as if delivered alone: a handler that raises records its own retry or failure
    and its siblings still complete; only the caller that wins a directive's claim runs its handler. `running`, if
    given, holds the claimed directives while their handlers run and their outcomes are recorded (a worker's note of
    what it has in hand, whose leases its heartbeat renews; the database stays the truth).
    """
    started = time.perf_counter()
    ids = list(dict.fromkeys(int(i) for i in directive_ids))
    if not ids and not (extra and like):
        return []
    reads: dict[Hashable, Any] = {}
    claimed, outcomes = await claim_many(hub, ids, reads=reads, extra=extra, like=like)
    if claimed:
        if running is not None:
            running.hold(claimed)
        try:
            token = _batch_reads.set(reads)
            try:
                results = await _run_all(hub, claimed, started)
            finally:
                _batch_reads.reset(token)
            completed = await complete_many(hub, [d for d, r in zip(claimed, results, strict=True)
                                                  if r.status == "done"])
        finally:
            if running is not None:
                running.release(claimed)
        duration = time.perf_counter() - started
        outcomes.extend(r if r.status != "done" else
                        replace(r, status="done" if r.directive_id in completed else "skipped", duration_s=duration)
                        for r in results)
    order = {directive_id: n for n, directive_id in enumerate(ids)}
    last = len(order)
    return sorted(outcomes, key=lambda outcome: order.get(outcome.directive_id, last))


async def _run_all(hub: Hub, claimed: list[Directive], started: float) -> list[RunOutcome]:
    by_index: dict[int, RunOutcome] = {}
    queue = iter(enumerate(claimed))

    async def lane() -> None:
        for index, directive in queue:  # lanes share the iterator: each directive runs once
            try:
                by_index[index] = await _run_claimed(hub, directive, started)
            except Exception:  # recording a failure failed (database down): left `running` until its lease expires
                log.exception("directive %s (%s): its outcome could not be recorded", directive.id, directive.topic)
                by_index[index] = RunOutcome(directive.id or 0, "skipped", topic=directive.topic,
                                             attempts=directive.attempts)

    lanes = min(BATCH_LANES, len(claimed))
    if lanes == 1:
        await lane()
    else:
        await asyncio.gather(*(lane() for _ in range(lanes)))
    return [by_index[index] for index in range(len(claimed))]


async def run_directive(hub: Hub, directive_id: int) -> RunOutcome:
    """One delivery of a directive id: claim → the topic's handler → `done`, or a recorded failure with backoff.

    Duplicated deliveries are harmless: only the caller that wins the claim runs the handler. An unknown topic fails
    the directive at once, with a `last_error` that names it.
    """
    return (await run_directives(hub, [directive_id]))[0]


async def directives_of_order(hub: Hub, order_ref: str) -> Sequence[Directive]:
    """The directives caused by an order (post-commit and status-driven), oldest first."""
    async with hub.transaction(readonly=True) as uow:
        return (await uow.db.execute(
            select(Directive).where(col(Directive.order_ref) == order_ref).order_by(_DIRECTIVE_ID))).scalars().all()

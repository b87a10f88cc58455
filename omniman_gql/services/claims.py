"""Claiming directives for a delivery and completing them: conditional UPDATEs that only one caller can win."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, select, tuple_, union_all, update

from ..models import Directive, table_of, utcnow
from ..runtime import Hub
from ..uow import UnitOfWork
from .outcomes import RunOutcome

log = logging.getLogger("omniman.directives")


# A worker runs claim and complete for every directive: built once (statement construction and its cache key cost
# more than the execution), sent with bound values.
_TABLE = table_of(Directive)
_CLAIM = (update(_TABLE)
          .where(_TABLE.c.id == bindparam("claim_id"), _TABLE.c.status == "queued",
                 _TABLE.c.available_at <= bindparam("claim_now"))
          .values(status="running", attempts=_TABLE.c.attempts + 1, started_at=bindparam("claim_now"),
                  updated_at=bindparam("claim_now"), lease_expires_at=bindparam("lease_until"))
          .returning(*_TABLE.c))
# Several ids: every row it takes it has first locked with SKIP LOCKED, so it never waits for a row while holding
# others. A statement that did (a plain UPDATE of several rows) keeps the lock of a row it waited for and then found
# taken, and a completion of that row, itself waiting for a row this statement locked, closes a deadlock (seen with
# concurrent batch claims, each aborted after a second). An id another transaction holds is skipped: a claim will
# run it, or the sweeper, whose re-send bumps `updated_at` (the other writer of queued rows), is sending it.
_OWN = (select(_TABLE.c.id)
        .where(_TABLE.c.id.in_(bindparam("claim_ids", expanding=True)), _TABLE.c.status == "queued",
               _TABLE.c.available_at <= bindparam("claim_now"))
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time and no row locks
        .cte("own"))
_CLAIM_MANY = (update(_TABLE)
               .where(_TABLE.c.id.in_(select(_OWN.c.id)), _TABLE.c.status == "queued",
                      _TABLE.c.available_at <= bindparam("claim_now"))
               .values(status="running", attempts=_TABLE.c.attempts + 1, started_at=bindparam("claim_now"),
                       updated_at=bindparam("claim_now"), lease_expires_at=bindparam("lease_until"))
               .returning(*_TABLE.c))
# `_CLAIM_MANY` plus up to `claim_extra` other due, queued directives of the same topics (oldest first), locked the
# same way: a burst of commits that each wrote one directive (so one message each) is run in batches, and the later
# messages of the ids already taken find nothing to do. The target ids are a UNION of short lists so the UPDATE
# finds its rows by primary key.
_EXTRA = (select(_TABLE.c.id)
          .where(_TABLE.c.status == "queued", _TABLE.c.available_at <= bindparam("claim_now"),
                 _TABLE.c.topic.in_(select(_TABLE.c.topic).where(
                     _TABLE.c.id.in_(bindparam("like_ids", expanding=True))).scalar_subquery()),
                 # Its own bind (an empty list renders "NOT IN" as always true: shared with the "IN" of _OWN, the
                 # rendering of an empty list would be shared too).
                 _TABLE.c.id.not_in(bindparam("skip_ids", expanding=True)))
          .order_by(_TABLE.c.available_at)  # the (status, available_at) index's order: a long backlog is not sorted
          .limit(bindparam("claim_extra"))
          .with_for_update(skip_locked=True)
          .cte("extra"))
_CLAIM_WITH_EXTRA = (update(_TABLE)
                     .where(_TABLE.c.id.in_(union_all(select(_OWN.c.id), select(_EXTRA.c.id))),
                            _TABLE.c.status == "queued", _TABLE.c.available_at <= bindparam("claim_now"))
                     .values(status="running", attempts=_TABLE.c.attempts + 1, started_at=bindparam("claim_now"),
                             updated_at=bindparam("claim_now"), lease_expires_at=bindparam("lease_until"))
                     .returning(*_TABLE.c))
_STATES = select(_TABLE.c.id, _TABLE.c.status, _TABLE.c.available_at).where(
    _TABLE.c.id.in_(bindparam("state_ids", expanding=True)))
# (id, attempts) fences each run as still_ours does, for a whole batch in one statement.
_COMPLETE_MANY = (update(_TABLE)
                  .where(tuple_(_TABLE.c.id, _TABLE.c.attempts).in_(bindparam("runs", expanding=True)),
                         _TABLE.c.status == "running")
                  .values(status="done", last_error="", updated_at=bindparam("done_at"), lease_expires_at=None)
                  .returning(_TABLE.c.id))
_COMPLETE = (update(_TABLE)
             .where(_TABLE.c.id == bindparam("run_id"), _TABLE.c.status == "running",
                    _TABLE.c.attempts == bindparam("run_attempts"))
             .values(status="done", last_error="", updated_at=bindparam("done_at"), lease_expires_at=None))


def lease_until(hub: Hub, now: dt.datetime) -> dt.datetime:
    """When a claim (or a renewal) made at `now` lapses unless renewed."""
    return now + dt.timedelta(seconds=hub.settings.directive_lease_s)


def _statements(hub: Hub) -> Any:
    """A unit of work for the worker's claim and completion, each statement atomic on its own, in autocommit: a
    transaction around one UPDATE adds a BEGIN and a COMMIT round trip and nothing else."""
    return hub.transaction(autocommit=True)


async def claim(hub: Hub, directive_id: int) -> Directive | None:
    """Take a due, queued directive for this caller (→ running, attempts + 1). A conditional UPDATE decides, so of
    any number of concurrent callers exactly one gets the row; the others get None."""
    now = utcnow()
    async with _statements(hub) as uow:
        row = (await uow.execute(_CLAIM, {"claim_id": directive_id, "claim_now": now,
                                          "lease_until": lease_until(hub, now)})).mappings().one_or_none()
    return Directive(**row) if row is not None else None


def still_ours(directive: Directive) -> ColumnElement[bool]:
    # The attempt number fences a run: after a reclaim another worker holds a higher attempt, and a slow first run
    # must not overwrite what the newer one recorded.
    return and_(_TABLE.c.id == directive.id, _TABLE.c.status == "running", _TABLE.c.attempts == directive.attempts)


async def complete(hub: Hub, directive: Directive) -> bool:
    """Mark a claimed directive `done`. Returns False if the claim was lost (reclaimed meanwhile)."""
    async with _statements(hub) as uow:
        result = await uow.execute(
            _COMPLETE, {"run_id": directive.id, "run_attempts": directive.attempts, "done_at": utcnow()})
        return bool(result.rowcount)


def _not_yet(directive_id: int, state: Any | None, now: dt.datetime) -> RunOutcome:
    """The claim failed: tell apart "due later" (a delayed message that arrived early) from "not ours"."""
    if state is not None and state.status == "queued":
        wait = int((state.available_at - now).total_seconds() * 1000) + 1
        if wait > 0:
            return RunOutcome(directive_id, "queued", wait)
    return RunOutcome(directive_id, "skipped")


async def claim_many(hub: Hub, directive_ids: Sequence[int], *, reads: dict[Hashable, Any] | None = None,
                     extra: int = 0, like: Sequence[int] | None = None) -> tuple[list[Directive], list[RunOutcome]]:
    """`claim` for several ids: one conditional UPDATE takes every due, queued one (each its own attempt), and for
    the rest one SELECT tells "due later" from "not ours". Returns (claimed, outcomes of the rest): the claimed
    ones in the order of `directive_ids`, then up to `extra` other due, queued directives of the same topics that
    the same UPDATE took (see _CLAIM_WITH_EXTRA), oldest first: of the topics of `like` (default: the ids).

    With `reads`, the `prefetch` of each claimed topic's handler (see _prefetch) runs in the same unit of work and
    its entries are added to `reads`."""
    now = utcnow()
    lease = lease_until(hub, now)
    async with _statements(hub) as uow:
        # One id (most messages at low traffic) without the expanding IN, which SQLAlchemy renders anew on every
        # execution.
        if extra > 0:
            result = await uow.execute(_CLAIM_WITH_EXTRA, {
                "claim_ids": list(directive_ids), "skip_ids": list(directive_ids),
                "like_ids": list(directive_ids if like is None else like),
                "claim_now": now, "claim_extra": extra, "lease_until": lease})
        elif len(directive_ids) == 1:
            result = await uow.execute(_CLAIM, {"claim_id": directive_ids[0], "claim_now": now, "lease_until": lease})
        else:
            result = await uow.execute(_CLAIM_MANY, {"claim_ids": directive_ids, "claim_now": now,
                                                      "lease_until": lease})
        claimed = {row["id"]: Directive(**row) for row in result.mappings().all()}
        missing = [i for i in directive_ids if i not in claimed]
        states = {}
        if missing:
            states = {r.id: r for r in await uow.execute(_STATES, {"state_ids": missing})}
        if reads is not None and claimed:
            try:
                await _prefetch(hub, uow, list(claimed.values()), reads)
            except Exception:  # only an optimisation: the handlers read for themselves (shared_read) instead
                log.exception("prefetch for directives %s failed", sorted(claimed))
    own = set(directive_ids)
    others = sorted((d for i, d in claimed.items() if i not in own), key=lambda d: (d.available_at, d.id or 0))
    return ([claimed[i] for i in directive_ids if i in claimed] + others,
            [_not_yet(i, states.get(i), now) for i in missing])


async def _prefetch(hub: Hub, uow: UnitOfWork, claimed: list[Directive], reads: dict[Hashable, Any]) -> None:
    """Run the `prefetch` of each claimed topic's handler: `async (uow, directives of its topic) -> {key:
    value}`, whose entries answer that delivery's `shared_read(key, …)`. A read the handler would do in a
    transaction of its own (BEGIN, SELECT, COMMIT) becomes one statement of the claim's unit of work. It must only
    read; if it raises, the handlers read for themselves."""
    by_topic: dict[str, list[Directive]] = {}
    for directive in claimed:
        by_topic.setdefault(directive.topic, []).append(directive)
    for topic, group in by_topic.items():
        prefetch = getattr(hub.registry.handlers.get(topic), "prefetch", None)
        if prefetch is not None:
            reads.update(await prefetch(uow, group))


async def complete_many(hub: Hub, directives: Sequence[Directive]) -> set[int]:
    """Mark claimed directives `done` in one statement, each fenced by its attempt number. Returns the ids whose claim
    still held (a reclaimed one is left to its newer run)."""
    if not directives:
        return set()
    if len(directives) == 1:
        return {directives[0].id or 0} if await complete(hub, directives[0]) else set()
    runs = [(d.id, d.attempts) for d in directives]
    async with _statements(hub) as uow:
        return set((await uow.execute(_COMPLETE_MANY, {"runs": runs, "done_at": utcnow()})).scalars())



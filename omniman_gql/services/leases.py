"""Directive leases: a claim holds a directive until its lease expires; the holder's heartbeat renews it, and any
worker takes over a directive whose lease lapsed (its worker died or hangs), with no sweeper needed.

Fencing: a takeover puts the row back to `queued` and the next claim raises `attempts`; completion, failure and
renewal all require `status = running` and the attempt number the holder claimed, so a stale holder (paused, cut off
from the database, killed mid-write) can neither record an outcome nor keep its lease alive once it was taken over.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, tuple_, update

from ..models import Directive, table_of, utcnow
from ..runtime import Hub
from .claims import lease_until

log = logging.getLogger("omniman.directives")

_TABLE = table_of(Directive)
# Renewed only within the running timeout of the claim: a handler hung past it (its thread not interruptible) stops
# being renewed and is taken over, as the spec's "stuck running past a timeout" asks.
_RENEW = (update(_TABLE)
          .where(tuple_(_TABLE.c.id, _TABLE.c.attempts).in_(bindparam("runs", expanding=True)),
                 _TABLE.c.status == "running", _TABLE.c.started_at > bindparam("renew_since"))
          .values(lease_expires_at=bindparam("lease_until"))
          .returning(_TABLE.c.id))


class InHand:
    """The directives one worker process has claimed and not yet recorded the outcome of: (id → attempt), what its
    heartbeat renews. Mutated on the worker's event loop only; `in` is safe from its other threads."""

    def __init__(self) -> None:
        self._runs: dict[int, int] = {}

    def __contains__(self, directive_id: object) -> bool:
        return directive_id in self._runs

    def __len__(self) -> int:
        return len(self._runs)

    def hold(self, directives: Iterable[Directive]) -> None:
        for directive in directives:
            self._runs[directive.id or 0] = directive.attempts

    def release(self, directives: Iterable[Directive]) -> None:
        for directive in directives:
            if self._runs.get(directive.id or 0) == directive.attempts:
                del self._runs[directive.id or 0]

    def runs(self) -> list[tuple[int, int]]:
        return list(self._runs.items())


async def renew_leases(hub: Hub, runs: Sequence[tuple[int, int]]) -> set[int]:
    """Extend the leases of these (id, attempt) runs by `directive_lease_s` from now; the ids renewed. A run missing
    from the answer lost its lease (taken over, or past the running timeout): its outcome will not be recorded."""
    if not runs:
        return set()
    now = utcnow()
    since = now - dt.timedelta(seconds=hub.settings.directive_running_timeout_s)
    async with hub.transaction(autocommit=True) as uow:
        renewed = set((await uow.execute(_RENEW, {"runs": list(runs), "renew_since": since,
                                                  "lease_until": lease_until(hub, now)})).scalars())
    lost = sorted(i for i, _ in runs if i not in renewed)
    if lost:
        log.warning("lost the lease of directives %s (taken over or past the running timeout): their outcome here "
                    "will not be recorded", lost)
    return renewed


def _expired(now: dt.datetime, running_timeout_s: int) -> ColumnElement[bool]:
    # Rows claimed before leases existed have none: the old rule (started longer than the running timeout ago).
    return and_(_TABLE.c.status == "running", or_(
        _TABLE.c.lease_expires_at < now,
        and_(_TABLE.c.lease_expires_at.is_(None),
             _TABLE.c.started_at < now - dt.timedelta(seconds=running_timeout_s))))


async def reclaim_stuck(hub: Hub, *, limit: int = 500) -> tuple[list[int], list[int]]:
    """Take over `running` directives whose lease expired (their worker died or hung): back to `queued`, due now,
    or `failed` when they have used up their attempts. Run by every worker's heartbeat and by the sweeper; each row
    goes to one caller. Returns (requeued ids, failed ids); the caller dispatches the requeued ones."""
    settings = hub.settings
    now = utcnow()
    expired = _expired(now, settings.directive_running_timeout_s)
    note = "its worker's lease expired (worker lost or hung); reclaimed"
    async with hub.transaction() as uow:
        stuck = (await uow.execute(
            select(_TABLE.c.id, _TABLE.c.attempts).where(expired).order_by(_TABLE.c.id).limit(limit)
            .with_for_update(skip_locked=True)  # one completing now is skipped: no waiting while holding rows
        )).all()
        if not stuck:
            return [], []
        requeue = [i for i, attempts in stuck if attempts < settings.directive_max_attempts]
        fail = [i for i, attempts in stuck if attempts >= settings.directive_max_attempts]
        requeued: list[int] = []
        failed: list[int] = []
        # The guard again in the UPDATE: on SQLite (no row locks) a renewal may have landed since the SELECT.
        if requeue:
            requeued = list((await uow.execute(
                update(_TABLE).where(_TABLE.c.id.in_(requeue), expired)
                .values(status="queued", available_at=now, updated_at=now, last_error=note, lease_expires_at=None)
                .returning(_TABLE.c.id))).scalars())
        if fail:
            failed = list((await uow.execute(
                update(_TABLE).where(_TABLE.c.id.in_(fail), expired)
                .values(status="failed", updated_at=now, last_error=note, lease_expires_at=None)
                .returning(_TABLE.c.id))).scalars())
    if requeued or failed:
        log.warning("took over directives whose lease expired: requeued %s, failed %s", requeued, failed)
    return sorted(requeued), sorted(failed)

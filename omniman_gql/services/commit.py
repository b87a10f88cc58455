"""Use case: commit a session into an order, exactly once per idempotency key, in one transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from .. import ids
from ..db import UnitOfWork, insert_new_id
from ..domain.draft import Draft
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import Channel, IdempotencyKey, Order, Session, utcnow
from ..runtime import Hub
from .common import get_channel, lock_session, rules_of
from .events import announce_session
from .ordering import create_order

KEY_WAIT_MS = 10_000  # longest wait for a concurrent commit holding the same key (PostgreSQL)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_not_available
_WAIT_FOR_KEY = text(f"SET LOCAL lock_timeout = {int(KEY_WAIT_MS)}")
_STOP_WAITING = text("SET LOCAL lock_timeout = DEFAULT")


@dataclass(frozen=True)
class CommitOutcome:
    result: dict[str, Any]  # {order_ref, order_id, status: "committed" | "already_committed", total_q, items_count}
    order: Order | None
    replayed: bool


def _result(order: Order, status: str) -> dict[str, Any]:
    return {"order_ref": order.ref, "order_id": order.id, "status": status, "total_q": order.total_q,
            "items_count": order.items_count}


async def commit_session(
    hub: Hub, *, channel_code: str, session_key: str, idempotency_key: str, actor: str = "system"
) -> CommitOutcome:
    """Seal the session into an order. The key record, the order, its items and events, the session's new state and
    the post-commit directives are written in ONE transaction, so a key can never be left stuck (I1).

    Errors: not_found, in_progress, idempotency_key_reused, abandoned, missing_check, stale_check, hold_expired,
    blocking_issues, empty_session, invalid_input, and commit validators' codes.
    """
    limit = hub.registry.limits.max_string_length
    if not idempotency_key or not idempotency_key.strip() or len(idempotency_key) > limit:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`idempotency_key` must be 1 to {limit} characters.",
                           field=("idempotency_key",))
    scope = f"commit:{channel_code}"
    async with hub.transaction() as uow:
        await get_channel(uow.db, channel_code)
        replay = await _claim_key(uow, scope, idempotency_key, session_key)
        if replay is not None:
            return replay
        session, channel = await lock_session(uow.db, channel_code, session_key)
        if session.state == "committed":
            order = (await uow.db.execute(select(Order).where(
                Order.channel_code == channel_code, Order.session_key == session_key))).scalar_one()
            outcome = CommitOutcome(_result(order, "already_committed"), order, replayed=False)
        elif session.state == "abandoned":
            raise OmnimanError(ErrorCode.ABANDONED, "This session was abandoned and cannot be committed.",
                               field=("session_key",))
        else:
            outcome = await _seal(hub, uow, session, channel, actor)
        await _finish_key(uow, scope, idempotency_key, outcome.result)
    return outcome


async def _claim_key(uow: UnitOfWork, scope: str, key: str, session_key: str) -> CommitOutcome | None:
    """Insert the key record; if it exists already, return the replay (or raise). A concurrent holder of the key
    makes our INSERT wait on the unique index until it commits, so a finished first commit is seen as a replay.
    On PostgreSQL that wait is bounded (KEY_WAIT_MS): a holder that takes longer is reported as `in_progress`
    instead of leaving the client hanging. SQLite serialises writers, so there the holder has always finished."""
    postgres = uow.db.get_bind().dialect.name == "postgresql"
    if postgres:
        await (await uow.db.connection()).execute(_WAIT_FOR_KEY)
    try:
        now = utcnow()
        inserted = await insert_new_id(uow.db, IdempotencyKey.__table__, {
            "scope": scope, "key": key, "status": "in_progress", "session_key": session_key, "result": {},
            "created_at": now, "updated_at": now})
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise _in_progress(key) from None
    if postgres:
        await (await uow.db.connection()).execute(_STOP_WAITING)
    if inserted is not None:
        return None
    record = (await uow.db.execute(select(IdempotencyKey).where(
        IdempotencyKey.scope == scope, IdempotencyKey.key == key).with_for_update())).scalar_one()
    if record.session_key != session_key:
        raise OmnimanError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                           "This idempotency key was used to commit another session.", field=("idempotency_key",),
                           context={"idempotency_key": key, "session_key": session_key})
    if record.status == "done":
        order = (await uow.db.execute(select(Order).where(Order.ref == record.result["order_ref"]))).scalar_one()
        return CommitOutcome(dict(record.result), order, replayed=True)
    if record.status == "in_progress":
        raise _in_progress(key)
    record.status = "in_progress"  # failed before: a retry is allowed
    return None


def _in_progress(key: str) -> OmnimanError:
    return OmnimanError(ErrorCode.IN_PROGRESS, "A commit with this key is still in progress; try again shortly.",
                        field=("idempotency_key",), context={"idempotency_key": key})


async def _finish_key(uow: UnitOfWork, scope: str, key: str, result: dict[str, Any]) -> None:
    await uow.db.flush()  # a record revived by _claim_key ("failed" → "in_progress") is written before this UPDATE
    table = IdempotencyKey.__table__
    await (await uow.db.connection()).execute(update(table).where(table.c.scope == scope, table.c.key == key)
                                              .values(status="done", result=result, updated_at=utcnow()))


def check_freshness(session: Session, config: dict[str, Any], now: dt.datetime) -> None:
    """Every required check present, computed at the current rev, and with no expired hold (I14)."""
    checks = session.data.get("checks") or {}
    for code in config.get("required_checks_on_commit") or []:
        check = checks.get(code)
        if check is None:
            raise OmnimanError(ErrorCode.MISSING_CHECK, f"Check {code!r} has not run for this session yet.",
                               context={"check": code})
        if check.get("rev") != session.rev:
            raise OmnimanError(ErrorCode.STALE_CHECK, f"Check {code!r} was made for rev {check.get('rev')}, "
                               f"the session is at rev {session.rev}.",
                               context={"check": code, "check_rev": check.get("rev"), "rev": session.rev})
        result = check.get("result") or {}
        holds = [h for h in result.get("holds") or [] if isinstance(h, dict)]
        expiries = [result.get("hold_expires_at")] + [h.get("expires_at") for h in holds]
        for expiry in filter(None, expiries):
            if _expired(expiry, now):
                raise OmnimanError(ErrorCode.HOLD_EXPIRED, f"The holds of check {code!r} expired; modify the session "
                                   "or wait for the check to run again.",
                                   context={"check": code, "expired_at": str(expiry), "now": now.isoformat()})


def _expired(expiry: Any, now: dt.datetime) -> bool:
    """An expiry written back by a check: ISO 8601, naive meaning UTC; one we cannot read counts as expired."""
    try:
        moment = dt.datetime.fromisoformat(str(expiry))
    except ValueError:
        return True
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment <= now


async def _seal(hub: Hub, uow: UnitOfWork, session: Session, channel: Channel, actor: str) -> CommitOutcome:
    now = utcnow()
    check_freshness(session, channel.config, now)
    blocking = [issue for issue in session.data.get("issues") or [] if issue.get("blocking")]
    if blocking:
        raise OmnimanError(ErrorCode.BLOCKING_ISSUES, f"{len(blocking)} blocking issue(s) must be resolved first.",
                           context={"issues": blocking})
    draft = Draft.of(rules_of(channel, session), items=session.items, data=session.data, pricing=session.pricing,
                     pricing_trace=session.pricing_trace, actor=actor)
    errors = [e for v in hub.registry.validators_for("commit") for e in v.validate(draft)]
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    if not session.items:
        raise OmnimanError(ErrorCode.EMPTY_SESSION, "A session without lines cannot be committed.")
    holds = ((session.data.get("checks") or {}).get("stock") or {}).get("result", {}).get("holds") or []
    intent = (session.data.get("payment") or {}).get("intent_id")
    extras = {"stock.commit": {"holds": holds},
              "payment.capture": {"amount_q": session.pricing.get("total_q", 0),
                                  **({"intent_id": intent} if intent else {})}}
    order = await create_order(uow, channel=channel, session=session, actor=actor, directive_extras=extras)
    session.state = "committed"
    session.open_handle = None
    session.committed_at = now
    session.updated_at = now
    session.commit_token = ids.commit_token()
    await uow.db.flush()
    announce_session(uow, session)
    return CommitOutcome(_result(order, "committed"), order, replayed=False)

"""Use case: commit a session into an order, exactly once per idempotency key, in one transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .. import ids
from ..domain.draft import Draft
from ..domain.ops import customer_of
from ..domain.validation import amount_errors
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import utcnow
from ..models.rows import SessionRow
from ..runtime import Hub
from ..uow import DoneKey, LockWaitTimeout, UnitOfWork
from .common import read_channel, rules_of, session_not_found
from .events import announce_session
from .ordering import create_order

KEY_WAIT_MS = 10_000  # longest wait for a concurrent commit holding the same key (where the database waits)


@dataclass(frozen=True)
class CommitOutcome:
    result: dict[str, Any]  # {order_ref, order_id, status: "committed" | "already_committed", total_q, items_count}
    order: Any  # the order (attributes as `models.Order`), or None
    replayed: bool


class _TakeTheLongWay(Exception):
    """The one-pass commit met something other than an open session and a new key: roll back, claim the key first."""


def _result(order: Any, status: str) -> dict[str, Any]:
    return {"order_ref": order.ref, "order_id": order.id, "status": status, "total_q": order.total_q,
            "items_count": order.items_count}


async def commit_session(
    hub: Hub, *, channel_code: str, session_key: str, idempotency_key: str, actor: str = "system"
) -> CommitOutcome:
    """Seal the session into an order. The key record, the order, its items and events, the session's new state and
    the post-commit directives are written in ONE transaction, so a key can never be left stuck (I1).

    Errors: not_found, in_progress, idempotency_key_reused, abandoned, missing_check, stale_check, hold_expired,
    blocking_issues, empty_session, amount_out_of_range, invalid_input, and commit validators' codes.
    """
    limit = hub.registry.limits.max_string_length
    if not idempotency_key or not idempotency_key.strip() or len(idempotency_key) > limit:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`idempotency_key` must be 1 to {limit} characters.",
                           field=("idempotency_key",))
    scope = f"commit:{channel_code}"
    try:
        return await _commit_in_one_pass(hub, scope, channel_code, session_key, idempotency_key, actor)
    except _TakeTheLongWay:
        pass
    return await _commit_claiming_first(hub, scope, channel_code, session_key, idempotency_key, actor)


async def _commit_in_one_pass(
    hub: Hub, scope: str, channel_code: str, session_key: str, key: str, actor: str
) -> CommitOutcome:
    """The common case, an open session committed with a new key: lock the session and mark it committed, create
    the order, and record the key as done with it (one INSERT instead of a claim and a later UPDATE). Anything else
    (no such session, a closed one, an error, a key that exists) rolls back and takes the long way, whose answer and
    error precedence are the reference."""
    async with hub.transaction() as uow:
        sealed_at, token = utcnow(), ids.commit_token()
        found = await uow.commits.seal_open(channel_code, session_key, now=sealed_at, token=token,
                                            lock_wait_ms=KEY_WAIT_MS)
        if found is None:
            raise _TakeTheLongWay
        session, channel = found
        done_key = DoneKey(scope, key)
        try:
            outcome = await _seal(hub, uow, session, channel, actor, sealed_at=sealed_at, done_key=done_key)
        except OmnimanError:
            raise _TakeTheLongWay from None
        except LockWaitTimeout:
            raise _in_progress(key) from None  # the key's statement waited for a concurrent commit holding it
        recorded = None if done_key is None else done_key.recorded
        if recorded is None:
            try:
                recorded = await uow.commits.record_done_key(scope, key, session_key=session_key,
                                                             result=outcome.result, now=utcnow())
            except LockWaitTimeout:
                raise _in_progress(key) from None
        if not recorded:
            raise _TakeTheLongWay
    return outcome


async def _commit_claiming_first(
    hub: Hub, scope: str, channel_code: str, session_key: str, key: str, actor: str
) -> CommitOutcome:
    """Every case: the session locked, then the key claimed (replays, reuse and keys in progress answered), then the
    session sealed, or its earlier order returned. Locks are taken in the same order as the one-pass commit's."""
    async with hub.transaction() as uow:
        found = await uow.sessions.read(channel_code, session_key, lock=True)
        if found is None:
            await read_channel(uow, channel_code)  # `not_found` for the channel comes first
        replay = await _claim_key(uow, scope, key, session_key)
        if replay is not None:
            return replay
        if found is None:
            raise session_not_found(channel_code, session_key)
        session, channel = found
        if session.state == "committed":
            order = await uow.commits.order_of_session(channel_code, session_key)
            outcome = CommitOutcome(_result(order, "already_committed"), order, replayed=False)
        elif session.state == "abandoned":
            raise OmnimanError(ErrorCode.ABANDONED, "This session was abandoned and cannot be committed.",
                               field=("session_key",))
        else:
            outcome = await _seal(hub, uow, session, channel, actor)
        await uow.commits.finish_key(scope, key, result=outcome.result, now=utcnow())
    return outcome


async def _claim_key(uow: UnitOfWork, scope: str, key: str, session_key: str) -> CommitOutcome | None:
    """Insert the key record; if it exists already, return the replay (or raise). A concurrent holder of the key
    makes our INSERT wait on the unique index until it commits, so a finished first commit is seen as a replay.
    That wait is bounded (KEY_WAIT_MS) where the database has such waits: a holder that takes longer is reported as
    `in_progress` instead of leaving the client hanging. SQLite serialises writers, so there the holder has always
    finished."""
    try:
        claimed = await uow.commits.claim_key(scope, key, session_key=session_key, now=utcnow(),
                                              lock_wait_ms=KEY_WAIT_MS)
    except LockWaitTimeout:
        raise _in_progress(key) from None
    if claimed:
        return None
    record = await uow.commits.key_record(scope, key)
    if record.session_key != session_key:
        raise OmnimanError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                           "This idempotency key was used to commit another session.", field=("idempotency_key",),
                           context={"idempotency_key": key, "session_key": session_key})
    if record.status == "done":
        order = await uow.commits.order_by_ref(record.result["order_ref"])
        return CommitOutcome(dict(record.result), order, replayed=True)
    if record.status == "in_progress":
        raise _in_progress(key)
    return None  # failed before: a retry is allowed (the record is finished as done at the end)


def _in_progress(key: str) -> OmnimanError:
    return OmnimanError(ErrorCode.IN_PROGRESS, "A commit with this key is still in progress; try again shortly.",
                        field=("idempotency_key",), context={"idempotency_key": key})


def check_freshness(session: Any, config: dict[str, Any], now: dt.datetime) -> None:
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


async def _customer_now(hub: Hub, uow: UnitOfWork, session: SessionRow) -> dict[str, Any] | None:
    """The session's customer as the backend knows it at commit ({code, name, phone}), for the order's snapshot.
    One the backend no longer knows keeps its code."""
    linked = customer_of(session.data)
    if linked is None:
        return None
    found = await hub.registry.customers.get(uow, linked["code"])
    return {"code": linked["code"], "name": found.name if found else "", "phone": found.phone if found else None}


def _expired(expiry: Any, now: dt.datetime) -> bool:
    """An expiry written back by a check: ISO 8601, naive meaning UTC; one we cannot read counts as expired."""
    try:
        moment = dt.datetime.fromisoformat(str(expiry))
    except ValueError:
        return True
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment <= now


async def _seal(hub: Hub, uow: UnitOfWork, session: SessionRow, channel: Any, actor: str, *,
                sealed_at: dt.datetime | None = None, done_key: DoneKey | None = None) -> CommitOutcome:
    """Check the session can be committed, create its order and mark it committed (`sealed_at`: already marked, at
    that time, by the statement that read it; `done_key`: the key to record with the order if that is free)."""
    now = sealed_at or utcnow()
    check_freshness(session, channel.config, now)
    blocking = [issue for issue in session.data.get("issues") or [] if issue.get("blocking")]
    if blocking:
        raise OmnimanError(ErrorCode.BLOCKING_ISSUES, f"{len(blocking)} blocking issue(s) must be resolved first.",
                           context={"issues": blocking})
    validators = hub.registry.validators_for("commit")
    if validators:  # the draft (deep copies of the session's documents) is theirs alone: none, no draft
        draft = Draft.of(rules_of(channel, session), items=session.items, data=session.data,
                         pricing=session.pricing, pricing_trace=session.pricing_trace, actor=actor)
        errors = [e for v in validators for e in v.validate(draft)]
        if errors:
            raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    # A session priced before amounts were bounded may hold totals no order may have: checked here, never stored.
    errors = amount_errors(session.items, session.pricing.get("total_q"), line_field=lambda _: ("session_key",),
                           total_field=("session_key",))
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    if not session.items:
        raise OmnimanError(ErrorCode.EMPTY_SESSION, "A session without lines cannot be committed.")
    holds = ((session.data.get("checks") or {}).get("stock") or {}).get("result", {}).get("holds") or []
    intent = (session.data.get("payment") or {}).get("intent_id")
    extras = {"stock.commit": {"holds": holds},
              "payment.capture": {"amount_q": session.pricing.get("total_q", 0),
                                  **({"intent_id": intent} if intent else {})}}
    order = await create_order(uow, channel=channel, session=session, actor=actor, directive_extras=extras,
                               done_key=done_key, customer=await _customer_now(hub, uow, session),
                               timezone=hub.settings.timezone, close_refs=True)
    if sealed_at is None:  # the long way: the session was only locked
        token = ids.commit_token()
        await uow.commits.seal(session.id, now=now, token=token)
        session.state, session.open_handle, session.committed_at, session.updated_at, session.commit_token = (
            "committed", None, now, now, token)
    announce_session(uow, session)
    return CommitOutcome(_result(order, "committed"), order, replayed=False)

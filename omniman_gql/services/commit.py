"""Use case: commit a session into an order, exactly once per idempotency key, in one transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import ids
from ..infra import pg_direct
from ..infra.db import UnitOfWork, insert_new_id
from ..domain.draft import Draft
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import Channel, IdempotencyKey, Order, Session, utcnow
from ..runtime import Hub
from .common import (
    SessionRow,
    read_channel,
    read_session,
    rules_of,
    session_and_channel_columns,
    session_not_found,
    split_session_row,
)
from .events import announce_session
from .ordering import DoneKey, create_order

KEY_WAIT_MS = 10_000  # longest wait for a concurrent commit holding the same key (PostgreSQL)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_not_available
# set_config(…, is_local) is SET LOCAL with a bound value: KEY_WAIT_MS is read when a commit runs.
_WAIT_FOR_KEY = select(func.set_config("lock_timeout", bindparam("b_wait_ms"), True))
_STOP_WAITING = text("SET LOCAL lock_timeout = DEFAULT")

_KEYS = IdempotencyKey.__table__  # type: ignore[attr-defined]
_ORDERS = Order.__table__  # type: ignore[attr-defined]
_SESSIONS = Session.__table__  # type: ignore[attr-defined]
_CHANNELS = Channel.__table__  # type: ignore[attr-defined]
# Statements every commit sends, built once (building one and its cache key costs more than sending it).
_SEAL_SESSION = (update(_SESSIONS).where(_SESSIONS.c.id == bindparam("b_id"))
                 .values(state="committed", open_handle=None, committed_at=bindparam("b_now"),
                         updated_at=bindparam("b_now"), commit_token=bindparam("b_token")))
# PostgreSQL: the same UPDATE also bounds the key INSERT's wait that follows it (set_config(…, is_local) is SET
# LOCAL): one round trip less. The session row is ours already, so the bound changes nothing for the UPDATE itself.
_SEAL_SESSION_BOUNDING_KEY_WAIT = _SEAL_SESSION.returning(func.set_config("lock_timeout", bindparam("b_wait_ms"), True))
# PostgreSQL's one-pass commit: lock the open session, mark it committed and read it with its channel's rules, all
# in one UPDATE … FROM channels … RETURNING (SQLite's RETURNING cannot name the FROM table). Its RETURNING also
# bounds the lock waits of the rest of the transaction (set_config(…, is_local) is SET LOCAL): only the key INSERT
# can meet one, on a concurrent commit holding the same key.
_SEAL_AND_READ = (update(_SESSIONS)
                  .where(_SESSIONS.c.channel_code == bindparam("b_channel_code"),
                         _SESSIONS.c.session_key == bindparam("b_session_key"), _SESSIONS.c.state == "open",
                         _CHANNELS.c.code == _SESSIONS.c.channel_code)
                  .values(state="committed", open_handle=None, committed_at=bindparam("b_now"),
                          updated_at=bindparam("b_now"), commit_token=bindparam("b_token"))
                  .returning(*session_and_channel_columns(),
                             func.set_config("lock_timeout", bindparam("b_wait_ms"), True)))
_FINISH_KEY = (update(_KEYS).where(_KEYS.c.scope == bindparam("b_scope"), _KEYS.c.key == bindparam("b_key"))
               .values(status="done", result=bindparam("b_result"), updated_at=bindparam("b_now")))
_KEY_RECORD = (select(_KEYS.c.session_key, _KEYS.c.status, _KEYS.c.result)
               .where(_KEYS.c.scope == bindparam("scope"), _KEYS.c.key == bindparam("key")).with_for_update())
# PostgreSQL: the done key's INSERT, sent by pg_direct (insert_new_id's statement, built here for that path).
_INSERT_DONE_KEY = pg_insert(_KEYS).on_conflict_do_nothing().returning(_KEYS.c.id)
_ORDER_BY_REF = select(*_ORDERS.columns).where(_ORDERS.c.ref == bindparam("ref"))
_ORDER_OF_SESSION = select(*_ORDERS.columns).where(_ORDERS.c.channel_code == bindparam("channel_code"),
                                                     _ORDERS.c.session_key == bindparam("session_key"))


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
    blocking_issues, empty_session, invalid_input, and commit validators' codes.
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
    """The common case, an open session committed with a new key: lock the session, seal it, and record the key as
    done at the end (one INSERT instead of a claim and a later UPDATE). Anything else (no such session, a closed one,
    an error, a key that exists) rolls back and takes the long way, whose answer and error precedence are the
    reference."""
    async with hub.core_transaction() as uow:
        sealed_at = None
        if uow.db.dialect.name == "postgresql":
            # Lock, read and mark committed in one statement; whatever the checks below reject rolls back with it.
            sealed_at, token = utcnow(), ids.commit_token()
            row = (await pg_direct.execute(uow.db, _SEAL_AND_READ, {
                "b_channel_code": channel_code, "b_session_key": session_key, "b_now": sealed_at, "b_token": token,
                "b_wait_ms": str(int(KEY_WAIT_MS))})).first()
            found = None if row is None else split_session_row(row)
        else:
            found = await read_session(uow.db, channel_code, session_key, lock=True)
        if found is None or found[0].state != ("committed" if sealed_at else "open"):
            raise _TakeTheLongWay
        session, channel = found
        # On PostgreSQL the key goes in the order's own statement when it can (see DoneKey); else its INSERT follows.
        done_key = DoneKey(scope, key) if sealed_at is not None else None
        try:
            outcome = await _seal(hub, uow, session, channel, actor, sealed_at=sealed_at, done_key=done_key)
        except OmnimanError:
            raise _TakeTheLongWay from None
        except OperationalError as exc:
            if done_key is None or not done_key.sent or done_key.recorded is not None or not _waited_too_long(exc):
                raise
            raise _in_progress(key) from None  # the order's statement waited for the key's holder (see below)
        recorded = None if done_key is None else done_key.recorded
        if recorded is None:
            recorded = await _record_done_key(uow.db, scope, key, session_key, outcome.result)
        if not recorded:
            raise _TakeTheLongWay
    return outcome


async def _commit_claiming_first(
    hub: Hub, scope: str, channel_code: str, session_key: str, key: str, actor: str
) -> CommitOutcome:
    """Every case: the session locked, then the key claimed (replays, reuse and keys in progress answered), then the
    session sealed, or its earlier order returned. Locks are taken in the same order as the one-pass commit's."""
    async with hub.core_transaction() as uow:
        connection = uow.db
        found = await read_session(connection, channel_code, session_key, lock=True)
        if found is None:
            await read_channel(connection, channel_code)  # `not_found` for the channel comes first
        replay = await _claim_key(connection, scope, key, session_key)
        if replay is not None:
            return replay
        if found is None:
            raise session_not_found(channel_code, session_key)
        session, channel = found
        if session.state == "committed":
            order = (await connection.execute(_ORDER_OF_SESSION, {"channel_code": channel_code,
                                                                  "session_key": session_key})).one()
            outcome = CommitOutcome(_result(order, "already_committed"), order, replayed=False)
        elif session.state == "abandoned":
            raise OmnimanError(ErrorCode.ABANDONED, "This session was abandoned and cannot be committed.",
                               field=("session_key",))
        else:
            outcome = await _seal(hub, uow, session, channel, actor)
        await connection.execute(_FINISH_KEY, {"b_scope": scope, "b_key": key, "b_result": outcome.result,
                                               "b_now": utcnow()})
    return outcome


async def _record_done_key(
    connection: AsyncConnection, scope: str, key: str, session_key: str, result: dict[str, Any]
) -> bool:
    """Insert the key record as done; False if the key exists already. A concurrent holder of the key makes the
    INSERT wait on the unique index until it commits; on PostgreSQL that wait is bounded (KEY_WAIT_MS, set by the
    seal's UPDATE just before) and a holder that takes longer is reported as `in_progress`. Nothing but COMMIT
    follows, so the bound stays set."""
    now = utcnow()
    values = {"scope": scope, "key": key, "status": "done", "session_key": session_key, "result": result,
              "created_at": now, "updated_at": now}
    try:
        if connection.dialect.name == "postgresql":
            inserted = (await pg_direct.execute(connection, _INSERT_DONE_KEY, values)).scalar_one_or_none()
        else:
            inserted = await insert_new_id(connection, _KEYS, values)
    except OperationalError as exc:
        if not _waited_too_long(exc):
            raise
        raise _in_progress(key) from None
    return inserted is not None


def _waited_too_long(exc: OperationalError) -> bool:
    """Whether a key INSERT failed for waiting longer than KEY_WAIT_MS for the key's holder (`in_progress`)."""
    return getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


async def _claim_key(connection: AsyncConnection, scope: str, key: str, session_key: str) -> CommitOutcome | None:
    """Insert the key record; if it exists already, return the replay (or raise). A concurrent holder of the key
    makes our INSERT wait on the unique index until it commits, so a finished first commit is seen as a replay.
    On PostgreSQL that wait is bounded (KEY_WAIT_MS): a holder that takes longer is reported as `in_progress`
    instead of leaving the client hanging. SQLite serialises writers, so there the holder has always finished."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        await connection.execute(_WAIT_FOR_KEY, {"b_wait_ms": str(int(KEY_WAIT_MS))})
    try:
        now = utcnow()
        inserted = await insert_new_id(connection, _KEYS, {
            "scope": scope, "key": key, "status": "in_progress", "session_key": session_key, "result": {},
            "created_at": now, "updated_at": now})
    except OperationalError as exc:
        if not _waited_too_long(exc):
            raise
        raise _in_progress(key) from None
    if postgres:
        await connection.execute(_STOP_WAITING)
    if inserted is not None:
        return None
    record = (await connection.execute(_KEY_RECORD, {"scope": scope, "key": key})).one()
    if record.session_key != session_key:
        raise OmnimanError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                           "This idempotency key was used to commit another session.", field=("idempotency_key",),
                           context={"idempotency_key": key, "session_key": session_key})
    if record.status == "done":
        order = (await connection.execute(_ORDER_BY_REF, {"ref": record.result["order_ref"]})).one()
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
    if not session.items:
        raise OmnimanError(ErrorCode.EMPTY_SESSION, "A session without lines cannot be committed.")
    holds = ((session.data.get("checks") or {}).get("stock") or {}).get("result", {}).get("holds") or []
    intent = (session.data.get("payment") or {}).get("intent_id")
    extras = {"stock.commit": {"holds": holds},
              "payment.capture": {"amount_q": session.pricing.get("total_q", 0),
                                  **({"intent_id": intent} if intent else {})}}
    order = await create_order(uow, channel=channel, session=session, actor=actor, directive_extras=extras,
                               done_key=done_key)
    if sealed_at is not None:
        announce_session(uow, session)
        return CommitOutcome(_result(order, "committed"), order, replayed=False)
    token = ids.commit_token()
    if uow.db.dialect.name == "postgresql":
        await uow.db.execute(_SEAL_SESSION_BOUNDING_KEY_WAIT, {"b_id": session.id, "b_now": now, "b_token": token,
                                                              "b_wait_ms": str(int(KEY_WAIT_MS))})
    else:
        await uow.db.execute(_SEAL_SESSION, {"b_id": session.id, "b_now": now, "b_token": token})
    session.state, session.open_handle, session.committed_at, session.updated_at, session.commit_token = (
        "committed", None, now, now, token)
    announce_session(uow, session)
    return CommitOutcome(_result(order, "committed"), order, replayed=False)

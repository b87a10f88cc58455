"""Commit statements: seal a session, and claim, read and record its idempotency key (PostgreSQL bounds key waits)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import OperationalError

from ...models import IdempotencyKey, Order
from ...models.rows import ChannelRow, SessionRow
from ...uow import LockWaitTimeout, Values
from .sessions import CHANNELS, SESSIONS, session_and_channel_columns, split_session_row

KEYS = IdempotencyKey.__table__  # type: ignore[attr-defined]
_ORDERS = Order.__table__  # type: ignore[attr-defined]
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_not_available: a lock_timeout ran out

# Built once: every commit sends some of them.
_SEAL = (update(SESSIONS).where(SESSIONS.c.id == bindparam("b_id"))
         .values(state="committed", open_handle=None, committed_at=bindparam("b_now"), updated_at=bindparam("b_now"),
                 commit_token=bindparam("b_token")))
_FINISH_KEY = (update(KEYS).where(KEYS.c.scope == bindparam("b_scope"), KEYS.c.key == bindparam("b_key"))
               .values(status="done", result=bindparam("b_result"), updated_at=bindparam("b_now")))
_KEY_RECORD = (select(KEYS.c.session_key, KEYS.c.status, KEYS.c.result)
               .where(KEYS.c.scope == bindparam("scope"), KEYS.c.key == bindparam("key")).with_for_update())
_ORDER_BY_REF = select(*_ORDERS.columns).where(_ORDERS.c.ref == bindparam("ref"))
_ORDER_OF_SESSION = select(*_ORDERS.columns).where(_ORDERS.c.channel_code == bindparam("channel_code"),
                                                     _ORDERS.c.session_key == bindparam("session_key"))


def _key_values(scope: str, key: str, status: str, session_key: str, result: Values, now: dt.datetime) -> Values:
    return {"scope": scope, "key": key, "status": status, "session_key": session_key, "result": result,
            "created_at": now, "updated_at": now}


class CommitStatements:
    """Both databases (SQLite serialises writers: a key is never held by a transaction still running there)."""

    __slots__ = ("_uow",)

    def __init__(self, uow: Any) -> None:
        self._uow = uow

    async def seal_open(self, channel_code: str, session_key: str, *, now: dt.datetime, token: str,
                        lock_wait_ms: int) -> tuple[SessionRow, ChannelRow] | None:
        found = await self._uow.sessions.read(channel_code, session_key, lock=True)
        if found is None or found[0].state != "open":
            return None
        session, channel = found
        await self.seal(session.id, now=now, token=token)
        session.state, session.open_handle, session.committed_at, session.updated_at, session.commit_token = (
            "committed", None, now, now, token)
        return session, channel

    async def claim_key(self, scope: str, key: str, *, session_key: str, now: dt.datetime, lock_wait_ms: int) -> bool:
        values = _key_values(scope, key, "in_progress", session_key, {}, now)
        return await self._uow.rows.insert_new(KEYS, values) is not None  # type: ignore[no-any-return]

    async def key_record(self, scope: str, key: str) -> Any:
        return (await self._uow.execute(_KEY_RECORD, {"scope": scope, "key": key})).one()

    async def finish_key(self, scope: str, key: str, *, result: Values, now: dt.datetime) -> None:
        await self._uow.execute(_FINISH_KEY, {"b_scope": scope, "b_key": key, "b_result": result, "b_now": now})

    async def record_done_key(self, scope: str, key: str, *, session_key: str, result: Values,
                              now: dt.datetime) -> bool:
        values = _key_values(scope, key, "done", session_key, result, now)
        return await self._uow.rows.insert_new(KEYS, values) is not None  # type: ignore[no-any-return]

    async def seal(self, session_id: int, *, now: dt.datetime, token: str) -> None:
        await self._uow.run(_SEAL, {"b_id": session_id, "b_now": now, "b_token": token})

    async def order_by_ref(self, ref: str) -> Any:
        return (await self._uow.execute(_ORDER_BY_REF, {"ref": ref})).one()

    async def order_of_session(self, channel_code: str, session_key: str) -> Any:
        return (await self._uow.execute(_ORDER_OF_SESSION, {"channel_code": channel_code,
                                                             "session_key": session_key})).one()


def waited_too_long(error: OperationalError) -> bool:
    """Whether a statement failed for waiting longer than the transaction's lock_timeout."""
    return getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


# set_config(…, is_local) is SET LOCAL with a bound value (the bound is given per commit).
_WAIT_FOR_KEY = select(func.set_config("lock_timeout", bindparam("b_wait_ms"), True))
_STOP_WAITING = text("SET LOCAL lock_timeout = DEFAULT")
# Lock, read and mark committed in one UPDATE … FROM channels … RETURNING (SQLite's RETURNING cannot name the FROM
# table). Its RETURNING also bounds the lock waits of the rest of the transaction (set_config(…, is_local) is SET
# LOCAL): only the key's INSERT can meet one, on a concurrent commit holding the same key.
_SEAL_AND_READ = (update(SESSIONS)
                  .where(SESSIONS.c.channel_code == bindparam("b_channel_code"),
                         SESSIONS.c.session_key == bindparam("b_session_key"), SESSIONS.c.state == "open",
                         CHANNELS.c.code == SESSIONS.c.channel_code)
                  .values(state="committed", open_handle=None, committed_at=bindparam("b_now"),
                          updated_at=bindparam("b_now"), commit_token=bindparam("b_token"))
                  .returning(*session_and_channel_columns(),
                             func.set_config("lock_timeout", bindparam("b_wait_ms"), True)))


class PgCommitStatements(CommitStatements):
    """PostgreSQL: the seal in one statement, and every wait for a concurrent holder of the key bounded."""

    __slots__ = ()

    async def seal_open(self, channel_code: str, session_key: str, *, now: dt.datetime, token: str,
                        lock_wait_ms: int) -> tuple[SessionRow, ChannelRow] | None:
        row = (await self._uow.run(_SEAL_AND_READ, {
            "b_channel_code": channel_code, "b_session_key": session_key, "b_now": now, "b_token": token,
            "b_wait_ms": str(int(lock_wait_ms))})).first()
        return None if row is None else split_session_row(row)

    async def claim_key(self, scope: str, key: str, *, session_key: str, now: dt.datetime, lock_wait_ms: int) -> bool:
        await self._uow.run(_WAIT_FOR_KEY, {"b_wait_ms": str(int(lock_wait_ms))})
        try:
            claimed = await super().claim_key(scope, key, session_key=session_key, now=now, lock_wait_ms=lock_wait_ms)
        except OperationalError as error:
            if waited_too_long(error):
                raise LockWaitTimeout(str(error.orig)) from error
            raise
        await self._uow.execute(_STOP_WAITING)
        return claimed

    async def record_done_key(self, scope: str, key: str, *, session_key: str, result: Values,
                              now: dt.datetime) -> bool:
        # The bound was set by the seal (seal_open).
        try:
            return await super().record_done_key(scope, key, session_key=session_key, result=result, now=now)
        except OperationalError as error:
            if waited_too_long(error):
                raise LockWaitTimeout(str(error.orig)) from error
            raise

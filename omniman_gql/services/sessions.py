"""Use cases of sessions: open (get-or-open), modify (the op pipeline), abandon, and check write-back."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .. import ids
from ..domain.limits import check_json, check_object, check_optional_string, check_string
from ..domain.ops import DATA_ROOTS
from ..errors import ErrorCode, OmnimanError
from ..models import Session, table_of, utcnow
from ..models.rows import SessionRow
from ..runtime import Hub
from .common import ensure_session_open, get_channel, lock_session
from .events import announce_session
from .modify import modify_session, run_modifiers_and_validators
from .outbox import enqueue_many
from .refs import end_session_refs

__all__ = ["abandon_locked", "abandon_session", "check_handle", "check_session_data", "modify_session", "open_session",
           "run_modifiers_and_validators", "write_back_check"]

MAX_HANDLE_TYPE = 64  # the width of sessions.handle_type
_SHORT_LIMITS: dict[Any, Any] = {}  # Limits (frozen) -> the same with strings bounded by MAX_HANDLE_TYPE


def _check_open_input(hub: Hub, session_key: str | None, handle_type: str | None, handle_ref: str | None,
                      data: Any) -> dict[str, Any]:
    limits = hub.registry.limits
    check_optional_string(session_key, limits, field=("session_key",), what="`session_key`")
    if session_key is not None and not session_key.strip():
        raise OmnimanError(ErrorCode.INVALID_INPUT, "`session_key` may not be blank.", field=("session_key",))
    check_handle(handle_type, handle_ref, limits)
    if (handle_type is None) != (handle_ref is None) or (handle_type is not None and not (handle_type and handle_ref)):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "`handle_type` and `handle_ref` go together: give both or neither.",
                           field=("handle_ref",) if handle_type else ("handle_type",))
    return check_session_data(data, limits)


def check_handle(handle_type: str | None, handle_ref: str | None, limits: Any) -> None:
    """A handle's parts within their bounds (the handle type is a short word such as `table`)."""
    if handle_type is not None:  # (None passes whatever the bound)
        short = _SHORT_LIMITS.get(limits)
        if short is None:
            short = _SHORT_LIMITS[limits] = replace(
                limits, max_string_length=min(limits.max_string_length, MAX_HANDLE_TYPE))
        check_optional_string(handle_type, short, field=("handle_type",), what="`handle_type`")
    check_optional_string(handle_ref, limits, field=("handle_ref",), what="`handle_ref`")


def check_session_data(data: Any, limits: Any) -> dict[str, Any]:
    """A session's initial `data`: a bounded JSON object whose keys are the roots `set_data` may write."""
    doc = check_object(data, limits, field=("data",), what="`data`")
    unknown = sorted(set(doc) - DATA_ROOTS)
    if unknown:
        raise OmnimanError(ErrorCode.INVALID_PATH, f"`data` keys {unknown} are not allowed; use "
                           f"{', '.join(sorted(DATA_ROOTS))}.", field=("data", unknown[0]),
                           context={"allowed_roots": sorted(DATA_ROOTS)})
    return doc


async def open_session(
    hub: Hub,
    *,
    channel_code: str,
    session_key: str | None = None,
    handle_type: str | None = None,
    handle_ref: str | None = None,
    data: dict[str, Any] | None = None,
    actor: str = "system",
) -> tuple[SessionRow | Session, bool]:
    """Get-or-open: the open session of the handle (or with the key) if there is one, else a new one.

    Returns (session, created). Errors: not_found (channel), channel_inactive, invalid_input, invalid_path.
    """
    doc = _check_open_input(hub, session_key, handle_type, handle_ref, data)
    open_handle = f"{handle_type}:{handle_ref}" if handle_type is not None else None
    # The common case, a new session on an active channel, is one statement on its own: INSERT … SELECT the
    # channel's policies … ON CONFLICT DO NOTHING RETURNING. No row back (no such channel, an inactive one, or a
    # session already holding the key or handle): the long way below answers, as it always did.
    now = utcnow()
    values: dict[str, Any] = {
        "channel_code": channel_code, "session_key": session_key or ids.session_key(), "handle_type": handle_type,
        "handle_ref": handle_ref, "open_handle": open_handle, "state": "open", "rev": 0, "items": [], "data": doc,
        "pricing": {"total_q": 0, "items_count": 0}, "pricing_trace": [], "opened_at": now, "updated_at": now}
    async with hub.transaction(autocommit=True) as uow:
        inserted = await uow.sessions.insert_open(values)
        if inserted is not None:
            session_id, pricing_policy, edit_policy = inserted
            opened = SessionRow(id=session_id, pricing_policy=pricing_policy, edit_policy=edit_policy,
                                committed_at=None, commit_token=None, **values)
            announce_session(uow, opened)
    if inserted is not None:
        return opened, True
    return await _open_the_long_way(hub, channel_code, session_key, handle_type, handle_ref, open_handle, doc)


async def _open_the_long_way(
    hub: Hub, channel_code: str, session_key: str | None, handle_type: str | None, handle_ref: str | None,
    open_handle: str | None, doc: dict[str, Any]
) -> tuple[Session, bool]:
    async with hub.transaction() as uow:
        channel = await get_channel(uow.db, channel_code)
        if not channel.is_active:
            existing = await _find_existing(uow.db, channel_code, session_key, open_handle)
            if existing is not None:
                return existing, False
            raise OmnimanError(ErrorCode.CHANNEL_INACTIVE, f"Channel {channel_code!r} is not active.",
                               field=("channel_code",))
        now = utcnow()
        row = Session(channel_code=channel_code, session_key=session_key or ids.session_key(),
                      handle_type=handle_type, handle_ref=handle_ref, open_handle=open_handle,
                      pricing_policy=channel.pricing_policy, edit_policy=channel.edit_policy, rev=0,
                      items=[], data=doc, pricing={"total_q": 0, "items_count": 0}, pricing_trace=[],
                      opened_at=now, updated_at=now)
        # Insert first: a unique constraint (key, or open handle), not luck, decides get-or-open, so the common case
        # (a new session) costs one statement; only a conflict reads the session that is already there.
        values = {c: getattr(row, c) for c in Session.model_fields if c != "id"}
        inserted = await uow.rows.insert_new(table_of(Session), values)
        if inserted is None:
            winner = await _find_existing(uow.db, channel_code, session_key, open_handle)
            if winner is None:
                raise OmnimanError(ErrorCode.INVALID_INPUT, "That session key is taken.", field=("session_key",))
            return winner, False
        row.id = inserted  # every other column is what was just written: no need to read it back
        announce_session(uow, row)
    return row, True


async def _find_existing(
    db: AsyncSession, channel_code: str, session_key: str | None, open_handle: str | None
) -> Session | None:
    if open_handle is not None:
        found = (await db.execute(select(Session).where(
            col(Session.channel_code) == channel_code, col(Session.open_handle) == open_handle))).scalar_one_or_none()
        if found is not None:
            return found
    if session_key is not None:
        return (await db.execute(select(Session).where(
            col(Session.channel_code) == channel_code, col(Session.session_key) == session_key))).scalar_one_or_none()
    return None


async def abandon_session(hub: Hub, *, channel_code: str, session_key: str, actor: str = "system") -> Session:
    """Close an open session without an order; its handle is free again.

    Errors: not_found, already_committed, already_abandoned.
    """
    async with hub.transaction() as uow:
        session, channel = await lock_session(uow.db, channel_code, session_key)
        ensure_session_open(session)
        await abandon_locked(uow, session, channel)
    return session


async def abandon_locked(uow: Any, session: Session, channel: Any) -> None:
    """Abandon an open session already locked in `uow`: its handle is free, its holds released (a `stock.release`
    directive when the channel holds stock), and the change announced on `sessionChanged`."""
    session.state = "abandoned"
    session.open_handle = None
    session.updated_at = utcnow()
    await uow.db.flush()
    await end_session_refs(uow, channel_code=session.channel_code, session_key=session.session_key,
                           now=session.updated_at)
    if "stock" in (channel.config.get("required_checks_on_commit") or []):
        # Holds would expire anyway; releasing now gives the stock back at once.
        await enqueue_many(uow, [("stock.release", {"channel_code": session.channel_code,
                                                    "session_key": session.session_key})])
    announce_session(uow, session)


def _normalize_issues(source: str, rev: int, issues: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    normalized = []
    for issue in issues:
        issue = copy.deepcopy(dict(issue))
        issue.setdefault("id", ids.issue_id())
        issue["source"] = source
        issue.setdefault("blocking", False)
        issue.setdefault("message", "")
        context = dict(issue.get("context") or {})
        context["actions"] = [
            {"id": action.get("id") or ids.action_id(), "label": action.get("label", ""),
             "rev": action.get("rev", rev), "ops": list(action.get("ops") or [])}
            for action in context.get("actions") or []
        ]
        issue["context"] = context
        normalized.append(issue)
    return normalized


async def write_back_check(
    hub: Hub,
    *,
    channel_code: str,
    session_key: str,
    check_code: str,
    expected_rev: int,
    result: dict[str, Any],
    issues: Sequence[dict[str, Any]] = (),
) -> bool:
    """Store a check's result (and replace its issues) only if the session is open and still at `expected_rev`.

    Returns whether it was applied (I13); a stale or closed session is not an error, the result is just dropped.
    """
    limits = hub.registry.limits
    check_string(check_code, limits, field=("check_code",), code=ErrorCode.INVALID_INPUT, what="`check_code`")
    check_json(result, limits, field=("result",), what="A check result")
    check_json(list(issues), limits, field=("issues",), what="The issues")
    async with hub.transaction() as uow:
        try:
            session, _channel = await lock_session(uow.db, channel_code, session_key)
        except OmnimanError:
            return False
        if session.state != "open" or session.rev != expected_rev:
            return False
        data = copy.deepcopy(session.data)
        data.setdefault("checks", {})[check_code] = {"rev": expected_rev, "at": utcnow().isoformat(), "result": result}
        kept = [issue for issue in data.get("issues", []) if issue.get("source") != check_code]
        data["issues"] = kept + _normalize_issues(check_code, expected_rev, issues)
        session.data = data
        session.updated_at = utcnow()
        await uow.db.flush()
        announce_session(uow, session)
    return True

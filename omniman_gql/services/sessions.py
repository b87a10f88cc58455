"""Use cases of sessions: open (get-or-open), modify (the op pipeline), abandon, and check write-back."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from .. import ids
from ..domain.channel_config import check_topic_for
from ..domain.draft import Draft
from ..domain.limits import check_json, check_object, check_optional_string, check_string
from ..domain.ops import DATA_ROOTS, apply_ops, parse_ops
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import Session, utcnow
from ..models.rows import ChannelRow, SessionRow
from ..runtime import Hub
from ..uow import UnitOfWork
from .common import (
    PricesAtHand,
    ensure_session_open,
    fetch_prices,
    get_channel,
    lock_session,
    prices_read_with_session,
    rules_of,
    session_not_found,
)
from .events import announce_session
from .outbox import enqueue_many

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
    values = {"channel_code": channel_code, "session_key": session_key or ids.session_key(),
              "handle_type": handle_type, "handle_ref": handle_ref, "open_handle": open_handle, "state": "open",
              "rev": 0, "items": [], "data": doc, "pricing": {"total_q": 0, "items_count": 0}, "pricing_trace": [],
              "opened_at": now, "updated_at": now}
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
        inserted = await uow.rows.insert_new(Session.__table__, values)
        if inserted is None:
            winner = await _find_existing(uow.db, channel_code, session_key, open_handle)
            if winner is None:
                raise OmnimanError(ErrorCode.INVALID_INPUT, "That session key is taken.", field=("session_key",))
            return winner, False
        row.id = inserted  # every other column is what was just written: no need to read it back
        announce_session(uow, row)
    return row, True


async def _find_existing(
    db: Any, channel_code: str, session_key: str | None, open_handle: str | None
) -> Session | None:
    if open_handle is not None:
        found = (await db.execute(select(Session).where(
            Session.channel_code == channel_code, Session.open_handle == open_handle))).scalar_one_or_none()
        if found is not None:
            return found  # type: ignore[no-any-return]
    if session_key is not None:
        return (await db.execute(select(Session).where(  # type: ignore[no-any-return]
            Session.channel_code == channel_code, Session.session_key == session_key))).scalar_one_or_none()
    return None


async def modify_session(
    hub: Hub,
    *,
    channel_code: str,
    session_key: str,
    ops: Sequence[Any],
    expected_rev: int | None = None,
    actor: str = "system",
) -> SessionRow:
    """Apply `ops` atomically through modifiers and draft validators; `rev` moves by one and checks are cleared.

    Errors: not_found, already_committed, already_abandoned, locked, stale_rev, missing_sku, invalid_qty,
    missing_unit_price_q, invalid_price, unknown_line_id, invalid_path, invalid_merge, sku_mismatch, unsupported_op,
    invalid_input.
    """
    # First without holding anything: read the session, compute the draft (prices included), then write it only if
    # the session is still open at the rev read. The write is one UPDATE (plus the checks' directives), so SQLite's
    # writer lock is held for that alone. A change by someone else in between: done again under the row lock, which
    # answers exactly as if this one had waited for it (rev moves twice, or stale_rev for an expected_rev).
    async with hub.transaction(autocommit=True) as uow:
        if prices_read_with_session(hub):
            session, channel, at_hand = await _editable_session_and_prices(uow, channel_code, session_key,
                                                                           expected_rev, ops)
        else:
            (session, channel), at_hand = await _editable_session(uow, channel_code, session_key, expected_rev,
                                                                  lock=False), None
        draft = await _draft(hub, uow, session, channel, ops, actor, at_hand)
        required = channel.config.get("required_checks_on_commit") or []
        if not required:  # nothing to write but the session: one statement, on the same connection
            edited = await _write_draft(uow, session, draft, channel.config)
    if required:  # the session and the checks' directives, together
        async with hub.transaction() as uow:
            edited = await _write_draft(uow, session, draft, channel.config)
    if edited is not None:
        return edited
    async with hub.transaction() as uow:
        session, channel = await _editable_session(uow, channel_code, session_key, expected_rev, lock=True)
        draft = await _draft(hub, uow, session, channel, ops, actor)
        edited = await _write_draft(uow, session, draft, channel.config)
    assert edited is not None  # the row is locked: nobody moved it
    return edited


async def _editable_session(
    uow: UnitOfWork, channel_code: str, session_key: str, expected_rev: int | None, *, lock: bool
) -> tuple[SessionRow, ChannelRow]:
    found = await uow.sessions.read(channel_code, session_key, lock=lock)
    if found is None:
        raise session_not_found(channel_code, session_key)
    session, channel = found
    _check_editable(session, channel_code, expected_rev)
    return session, channel


def _check_editable(session: SessionRow, channel_code: str, expected_rev: int | None) -> None:
    """Open, editable, and at the rev the caller expects: checked in this order."""
    ensure_session_open(session)
    if session.edit_policy == "locked":
        raise OmnimanError(ErrorCode.LOCKED, f"Sessions of channel {channel_code!r} cannot be edited.",
                           field=("ops",), context={"channel_code": channel_code})
    if expected_rev is not None and expected_rev != session.rev:
        raise OmnimanError(ErrorCode.STALE_REV, f"The session is at rev {session.rev}, not {expected_rev}.",
                           field=("expected_rev",), context={"rev": session.rev, "expected_rev": expected_rev})


async def _editable_session_and_prices(
    uow: UnitOfWork, channel_code: str, session_key: str, expected_rev: int | None, ops: Sequence[Any]
) -> tuple[SessionRow, ChannelRow, PricesAtHand | None]:
    """`_editable_session` without a lock, the same checks in the same order, and the prices the draft will likely
    need, read with the session where the database can (one round trip instead of two)."""
    skus = _skus_named(ops)
    found = await uow.sessions.read_with_prices(channel_code, session_key, sorted(skus))
    if found is None:
        raise session_not_found(channel_code, session_key)
    session, channel, quotes = found
    _check_editable(session, channel_code, expected_rev)
    if quotes is None:
        return session, channel, None
    return session, channel, PricesAtHand(frozenset(skus).union(line["sku"] for line in session.items), quotes)


def _skus_named(ops: Any) -> set[str]:
    """The SKUs the raw ops seem to name (`sku` of `add_line` and `replace_sku`, in either shape), read leniently:
    they are only a guess of the prices to read with the session. Ops are parsed (and refused) later, after the
    session's own checks; a draft needing a SKU not guessed here looks its prices up as before."""
    skus: set[str] = set()
    if not isinstance(ops, Sequence) or isinstance(ops, str | bytes):
        return skus
    for raw in ops:
        if not isinstance(raw, dict):
            continue
        fields = raw if "op" in raw else next(iter(raw.values()), None) if len(raw) == 1 else None
        sku = fields.get("sku") if isinstance(fields, dict) else None
        if isinstance(sku, str) and sku.strip():
            skus.add(sku.strip())
    return skus


async def _draft(hub: Hub, uow: UnitOfWork, session: SessionRow, channel: ChannelRow, ops: Sequence[Any],
                 actor: str, at_hand: PricesAtHand | None = None) -> Draft:
    """The session with `ops` applied, priced, modified and validated; checks and issues cleared (stale now).
    `at_hand`: prices read with the session, used when they cover every SKU of the draft."""
    rules = rules_of(channel, session)
    parsed = parse_ops(ops, external_pricing=session.pricing_policy == "external", limits=hub.registry.limits)
    # The row was just read and is this call's alone (a conflict reads it again): the draft takes its documents
    # as they are, without the deep copies Draft.of makes.
    draft = Draft(channel=rules, items=session.items, data=session.data, pricing_trace=session.pricing_trace,
                  actor=actor)
    apply_ops(draft, parsed, new_line_id=ids.line_id)
    if session.pricing_policy == "internal" and draft.items:
        quotes = None if at_hand is None else at_hand.for_skus({line["sku"] for line in draft.items})
        draft.prices = quotes if quotes is not None else await fetch_prices(
            hub, uow, (line["sku"] for line in draft.items), session.channel_code)
    run_modifiers_and_validators(hub, draft, stage="draft")
    draft.data.pop("checks", None)  # I12: whatever was checked is stale now
    draft.data.pop("issues", None)
    return draft


async def _write_draft(uow: UnitOfWork, session: SessionRow, draft: Draft, config: Any) -> SessionRow | None:
    """Store the draft if the session is still open at the rev it was made from (I11: rev + 1); None if not."""
    now = utcnow()
    if not await uow.sessions.write_draft(session.id, session.rev, items=draft.items, data=draft.data,
                                          pricing=draft.pricing, pricing_trace=draft.pricing_trace, now=now):
        return None
    # The row was read by this call and is its alone: it becomes the edited session (no copy of every field).
    session.items, session.data, session.pricing, session.pricing_trace = (
        draft.items, draft.data, draft.pricing, draft.pricing_trace)
    session.rev, session.updated_at = session.rev + 1, now
    await _enqueue_checks(uow, session, config)
    announce_session(uow, session)
    return session


def run_modifiers_and_validators(hub: Hub, draft: Draft, *, stage: str) -> None:
    """Modifiers by ascending order, then the stage's validators; all validator errors are reported together."""
    for modifier in hub.registry.modifiers:
        modifier.apply(draft)
    errors: list[OmnimanError] = []
    for validator in hub.registry.validators_for(stage):
        errors.extend(validator.validate(draft))
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)


async def _enqueue_checks(uow: UnitOfWork, session: Any, config: Any) -> None:
    # Enqueued even when the session is now empty: the check's handler must release the holds of the old lines.
    required = config.get("required_checks_on_commit") or []
    if not required:
        return
    payload = {"session_key": session.session_key, "channel_code": session.channel_code, "rev": session.rev,
               "items": session.items}
    await enqueue_many(uow, [(check_topic_for(config, code), {**payload, "check": code}) for code in required])


async def abandon_session(hub: Hub, *, channel_code: str, session_key: str, actor: str = "system") -> Session:
    """Close an open session without an order; its handle is free again.

    Errors: not_found, already_committed, already_abandoned.
    """
    async with hub.transaction() as uow:
        session, channel = await lock_session(uow.db, channel_code, session_key)
        ensure_session_open(session)
        session.state = "abandoned"
        session.open_handle = None
        session.updated_at = utcnow()
        await uow.db.flush()
        if "stock" in (channel.config.get("required_checks_on_commit") or []):
            # Holds would expire anyway; releasing now gives the stock back at once.
            await enqueue_many(uow, [("stock.release", {"channel_code": channel_code, "session_key": session_key})])
        announce_session(uow, session)
    return session


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

"""Use case: modify a session, the op pipeline (ops, modifiers, draft validators, rev + 1, checks cleared)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import ids
from ..domain.channel_config import check_topic_for
from ..domain.draft import Draft
from ..domain.ops import Op, apply_ops, customer_of, parse_ops
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import utcnow
from ..models.rows import ChannelRow, SessionRow
from ..runtime import Hub
from ..uow import UnitOfWork
from .common import (
    PricesAtHand,
    ensure_session_open,
    fetch_prices,
    prices_read_with_session,
    rules_of,
    session_not_found,
)
from .events import announce_session
from .outbox import enqueue_many


async def modify_session(
    hub: Hub,
    *,
    channel_code: str,
    session_key: str,
    ops: Sequence[Any],
    expected_rev: int | None = None,
    actor: str = "system",
    role: str = "system",
) -> SessionRow:
    """Apply `ops` atomically through modifiers and draft validators; `rev` moves by one and checks are cleared.

    Errors: not_found, already_committed, already_abandoned, locked, stale_rev, missing_sku, invalid_qty,
    missing_unit_price_q, invalid_price, amount_out_of_range, price_override_not_allowed (`role`: the caller's, whom
    the channel's `price_override` may forbid other prices), unknown_line_id, invalid_path, invalid_merge,
    sku_mismatch, unsupported_op, invalid_input.
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
        draft = await _draft(hub, uow, session, channel, ops, actor, role, at_hand)
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
        draft = await _draft(hub, uow, session, channel, ops, actor, role)
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
    return session, channel, PricesAtHand(frozenset(skus).union(line["sku"] for line in session.items), quotes,
                                          _price_list(session.data))


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
                 actor: str, role: str, at_hand: PricesAtHand | None = None) -> Draft:
    """The session with `ops` applied, priced, modified and validated; checks and issues cleared (stale now).
    `at_hand`: prices read with the session, used when they cover every SKU of the draft."""
    rules = rules_of(channel, session)
    parsed = parse_ops(ops, external_pricing=session.pricing_policy == "external", limits=hub.registry.limits)
    await resolve_customers(hub, uow, parsed)
    # The row was just read and is this call's alone (a conflict reads it again): the draft takes its documents
    # as they are, without the deep copies Draft.of makes.
    draft = Draft(channel=rules, items=session.items, data=session.data, pricing_trace=session.pricing_trace,
                  actor=actor, role=role)
    apply_ops(draft, parsed, new_line_id=ids.line_id)
    if session.pricing_policy == "internal" and draft.items:
        # The customer's price list as the ops left it: naming another customer reprices the hub-priced lines.
        price_list = _price_list(draft.data)
        quotes = None if at_hand is None else at_hand.for_skus({line["sku"] for line in draft.items}, price_list)
        draft.prices = quotes if quotes is not None else await fetch_prices(
            hub, uow, (line["sku"] for line in draft.items), session.channel_code, price_list)
    run_modifiers_and_validators(hub, draft, stage="draft")
    draft.data.pop("checks", None)  # I12: whatever was checked is stale now
    draft.data.pop("issues", None)
    return draft


def _price_list(data: Any) -> str | None:
    customer = customer_of(data)
    return customer.get("price_list") if customer else None


async def resolve_customers(hub: Hub, uow: UnitOfWork, ops: Sequence[Op]) -> None:
    """Look up, through the customer backend, the customer each `set_customer` op names; the op then carries what
    the session keeps of it. Errors: customer_not_found, customer_inactive (at the op's `code`)."""
    for op in ops:
        if op.name != "set_customer" or op.fields["code"] is None:
            continue
        try:
            customer = await hub.registry.customers.validate(uow, op.fields["code"])
        except OmnimanError as exc:
            exc.field = op.field("code")
            raise
        op.fields["customer"] = {"code": customer.code, "price_list": customer.price_list}


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

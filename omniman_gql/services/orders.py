"""Use cases of orders: status transitions along the channel's flow, custom events, and external imports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from .. import ids
from ..domain.customers import UNCOUNTED
from ..domain.draft import Draft
from ..domain.flow import TIMESTAMP_FIELDS, OrderFlow
from ..domain.limits import check_object, check_string
from ..domain.ops import apply_ops, parse_ops
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import Order, Session, utcnow
from ..models.rows import OrderRow
from ..runtime import Hub
from .common import fetch_prices, get_channel, lock_order, rules_of
from .events import record_event
from .lifecycle import closing_directives
from .modify import run_modifiers_and_validators
from .ordering import RECORD_ORDER, create_order
from .outbox import enqueue_many
from .sessions import check_handle, check_session_data


async def transition_order(hub: Hub, *, ref: str, status: str, actor: str = "system") -> Order:
    """Move the order to `status` if the channel's flow allows it; the status's timestamp is set the first time only
    (I8), a `status_changed` event is appended, and the channel's `on_status` directives are enqueued (on `cancelled`
    and `returned` also the restock, release and refund: see services.lifecycle).

    Errors: not_found, terminal_status, invalid_transition.
    """
    status = check_string(status, hub.registry.limits, field=("status",), code=ErrorCode.INVALID_TRANSITION,
                          what="`status`")
    async with hub.transaction() as uow:
        order, channel = await lock_order(uow.db, ref)  # row lock: concurrent transitions are serialised
        flow = OrderFlow.from_config(channel.config)
        current = order.status
        if flow.is_terminal(current):
            raise OmnimanError(ErrorCode.TERMINAL_STATUS, f"The order is {current!r}, a final status.",
                               field=("status",), context={"current": current, "requested": status})
        allowed = flow.allowed(current)
        if status not in allowed:
            raise OmnimanError(ErrorCode.INVALID_TRANSITION, f"An order cannot go from {current!r} to {status!r}.",
                               field=("status",),
                               context={"current": current, "requested": status, "allowed": list(allowed)})
        now = utcnow()
        order.status = status
        order.updated_at = now
        stamp = TIMESTAMP_FIELDS.get(status)
        if stamp and getattr(order, stamp) is None:
            setattr(order, stamp, now)
        await uow.db.flush()
        await record_event(uow, order, "status_changed", {"old_status": current, "new_status": status}, actor=actor)
        topics = (channel.config.get("on_status") or {}).get(status) or []
        base = {"order_ref": order.ref, "channel_code": order.channel_code, "session_key": order.session_key,
                "status": status, "amount_q": order.total_q}
        intent = ((order.snapshot.get("data") or {}).get("payment") or {}).get("intent_id")
        if intent:
            base["intent_id"] = intent
        work = await closing_directives(uow, order, channel.config or {}, status, list(topics), base)
        if order.customer_code and status in UNCOUNTED:  # taken back out of the customer's figures (§16)
            work = [*work, (RECORD_ORDER, {"order_ref": order.ref, "channel_code": order.channel_code,
                                           "session_key": order.session_key, "customer_code": order.customer_code})]
        await enqueue_many(uow, work, order_ref=order.ref)
    return order


async def add_order_event(
    hub: Hub, *, ref: str, type: str, payload: dict[str, Any] | None = None, actor: str = "system"
) -> Order:
    """Append a `custom.*` event to the order's log.

    Errors: not_found, invalid_event_type, invalid_input.
    """
    limits = hub.registry.limits
    if not isinstance(type, str) or not type.startswith("custom.") or len(type) > 64 or len(type) <= len("custom."):
        raise OmnimanError(ErrorCode.INVALID_EVENT_TYPE, "Event types added by clients must look like `custom.<name>` "
                           "(at most 64 characters).", field=("type",))
    doc = check_object(payload, limits, field=("payload",), what="`payload`")
    async with hub.transaction() as uow:
        order, _ = await lock_order(uow.db, ref)
        await record_event(uow, order, type, doc, actor=actor)
    return order


async def import_order(
    hub: Hub,
    *,
    channel_code: str,
    external_ref: str,
    items: Sequence[dict[str, Any]],
    data: dict[str, Any] | None = None,
    handle_type: str | None = None,
    handle_ref: str | None = None,
    actor: str = "system",
    role: str = "system",
) -> tuple[Order | OrderRow, bool]:
    """Create session and order in one step from a platform's finished order; idempotent on (channel, external_ref).

    Returns (order, created). Errors: not_found, empty_session, missing_sku, invalid_qty, missing_unit_price_q,
    invalid_price, amount_out_of_range, price_override_not_allowed (as for modify_session, by `role`), invalid_input,
    and import validators' codes.
    """
    limits = hub.registry.limits
    external_ref = check_string(external_ref, limits, field=("external_ref",), code=ErrorCode.INVALID_INPUT,
                                what="`external_ref`")
    doc = check_session_data(data, limits)
    check_handle(handle_type, handle_ref, limits)
    if not items:
        raise OmnimanError(ErrorCode.EMPTY_SESSION, "An imported order needs at least one line.", field=("items",))
    if len(items) > limits.max_lines_per_session:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"An order holds at most {limits.max_lines_per_session} lines.",
                           field=("items",), context={"max_lines": limits.max_lines_per_session, "given": len(items)})
    for index, line in enumerate(items):
        if not isinstance(line, dict):
            raise OmnimanError(ErrorCode.INVALID_INPUT, "Each line must be an object.", field=("items", index))
    ops = [{**line, "op": "add_line"} for line in items]  # the op name last: a line cannot smuggle in another op
    try:
        return await _import(hub, channel_code, external_ref, ops, doc, handle_type, handle_ref, actor, role)
    except IntegrityError:
        # A concurrent import of the same ref won the unique constraint; return its order.
        existing = await _existing_import(hub, channel_code, external_ref)
        if existing is None:
            raise
        return existing, False


async def _existing_import(hub: Hub, channel_code: str, external_ref: str) -> Order | None:
    async with hub.transaction(readonly=True) as uow:
        return (await uow.db.execute(select(Order).where(
            col(Order.channel_code) == channel_code, col(Order.external_ref) == external_ref))).scalar_one_or_none()


async def _import(hub: Hub, channel_code: str, external_ref: str, ops: list[dict[str, Any]], data: dict[str, Any],
                  handle_type: str | None, handle_ref: str | None, actor: str,
                  role: str) -> tuple[Order | OrderRow, bool]:
    async with hub.transaction() as uow:
        channel = await get_channel(uow.db, channel_code)
        existing = (await uow.db.execute(select(Order).where(
            col(Order.channel_code) == channel_code, col(Order.external_ref) == external_ref))).scalar_one_or_none()
        if existing is not None:
            return existing, False
        try:
            limits = replace(hub.registry.limits, max_ops_per_modify=hub.registry.limits.max_lines_per_session)
            parsed = parse_ops(ops, external_pricing=channel.pricing_policy == "external", limits=limits)
            draft = Draft.of(rules_of(channel), items=[], data=data, actor=actor, role=role)
            apply_ops(draft, parsed, new_line_id=ids.line_id)
            if channel.pricing_policy == "internal":
                draft.prices = await fetch_prices(hub, uow, (line["sku"] for line in draft.items), channel_code)
            run_modifiers_and_validators(hub, draft, stage="import")
        except OmnimanError as exc:
            raise _as_item_error(exc) from None
        now = utcnow()
        session = Session(channel_code=channel_code, session_key=ids.session_key(), handle_type=handle_type,
                          handle_ref=handle_ref, state="committed", pricing_policy=channel.pricing_policy,
                          edit_policy=channel.edit_policy, rev=1, items=draft.items, data=draft.data,
                          pricing=draft.pricing, pricing_trace=draft.pricing_trace, opened_at=now, updated_at=now,
                          committed_at=now, commit_token=ids.commit_token())
        uow.db.add(session)
        await uow.db.flush()
        order = await create_order(uow, channel=channel, session=session, actor=actor, external_ref=external_ref,
                                   timezone=hub.settings.timezone)
    return order, True


def _as_item_error(exc: OmnimanError) -> OmnimanError:
    """Op errors are reported against the import's `items.<i>.<field>` input path."""
    for error in exc.errors():
        if error.field and error.field[0] == "ops":
            error.field = ("items", *error.field[1:2], *error.field[3:])
    if isinstance(exc, ValidationFailed):
        exc.field = exc.errors()[0].field
    return exc



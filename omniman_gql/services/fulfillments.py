"""Use cases of fulfillments: split or partial deliveries of an order, never more than was ordered."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal, TypedDict

from sqlalchemy import select
from sqlmodel import col

from .. import ids
from ..domain.flow import OrderFlow
from ..domain.limits import check_optional_string, check_string
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import Fulfillment, FulfillmentItem, Order, OrderItem, utcnow
from ..money import parse_qty, qty_str
from ..runtime import Hub
from .common import fulfillment_not_found, lock_order
from .events import record_event

FULFILLMENT_FLOW = {
    "pending": ("in_progress", "shipped", "cancelled"),
    "in_progress": ("shipped", "cancelled"),
    "shipped": ("delivered", "cancelled"),
    "delivered": (),
    "cancelled": (),
}
TEXT_FIELDS: tuple[Literal["carrier", "tracking_code", "tracking_url", "notes"], ...] = (
    "carrier", "tracking_code", "tracking_url", "notes")
MAX_ITEMS = 500


class TextFields(TypedDict, total=False):
    """The text columns of a fulfillment a caller gave, checked."""

    carrier: str
    tracking_code: str
    tracking_url: str
    notes: str


def _check_text(hub: Hub, fields: dict[str, Any]) -> TextFields:
    limits = hub.registry.limits
    out: TextFields = {}
    for key in TEXT_FIELDS:
        if fields.get(key) is not None:
            out[key] = check_optional_string(fields[key], limits, field=(key,), what=f"`{key}`") or ""
    return out


async def create_fulfillment(
    hub: Hub, *, ref: str, items: Sequence[dict[str, Any]], actor: str = "system", **text: str | None
) -> tuple[Order, Fulfillment]:
    """Create a `pending` fulfillment of some quantities of the order's lines.

    Errors: not_found, order_not_fulfillable (a terminal, cancelled or returned order), unknown_line_id, invalid_qty,
    over_fulfillment, invalid_input.
    """
    fields = _check_text(hub, text)
    if not items:
        raise OmnimanError(ErrorCode.INVALID_INPUT, "A fulfillment needs at least one line.", field=("items",))
    if len(items) > MAX_ITEMS:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"At most {MAX_ITEMS} lines per fulfillment.", field=("items",))
    wanted: dict[str, Decimal] = {}
    first_index: dict[str, int] = {}  # where each line was first named in the input, for error paths
    errors: list[OmnimanError] = []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise OmnimanError(ErrorCode.INVALID_INPUT, "Each line must be an object.", field=("items", i))
            line_id = check_string(item.get("line_id"), hub.registry.limits, field=("items", i, "line_id"),
                                   code=ErrorCode.UNKNOWN_LINE_ID, what="`line_id`")
            qty = parse_qty(item.get("qty"), field=("items", i, "qty"))
            wanted[line_id] = wanted.get(line_id, Decimal(0)) + qty
            first_index.setdefault(line_id, i)
        except OmnimanError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    async with hub.transaction() as uow:
        order, channel = await lock_order(uow.db, ref)  # serialises fulfillments of one order: no over-fulfilment race
        assert order.id is not None  # read from its table: the model's None is for an order not yet inserted
        if order.status in ("cancelled", "returned") or OrderFlow.from_config(channel.config).is_terminal(order.status):
            raise OmnimanError(ErrorCode.ORDER_NOT_FULFILLABLE,
                               f"Order {ref!r} is {order.status!r}: nothing more can be fulfilled.",
                               field=("ref",), context={"status": order.status})
        lines = select(col(OrderItem.line_id), col(OrderItem.qty)).where(col(OrderItem.order_id) == order.id)
        ordered: dict[str, Decimal] = dict((await uow.db.execute(lines)).all())
        done = await _fulfilled(uow.db, order.id)
        for line_id, qty in wanted.items():
            i = first_index[line_id]
            if line_id not in ordered:
                raise OmnimanError(ErrorCode.UNKNOWN_LINE_ID, f"No line {line_id!r} in order {ref!r}.",
                                   field=("items", i, "line_id"), context={"line_id": line_id, "ref": ref})
            left = ordered[line_id] - done.get(line_id, Decimal(0))
            if qty > left:
                raise OmnimanError(ErrorCode.OVER_FULFILLMENT,
                                   f"Line {line_id!r} has {qty_str(left)} left to fulfil; {qty_str(qty)} asked.",
                                   field=("items", i, "qty"),
                                   context={"line_id": line_id, "ordered": qty_str(ordered[line_id]),
                                            "remaining": qty_str(left), "requested": qty_str(qty)})
        fulfillment = Fulfillment(ref=ids.fulfillment_ref(), order_id=order.id, **fields)
        uow.db.add(fulfillment)
        await uow.db.flush()
        assert fulfillment.id is not None  # the flush inserted it
        uow.db.add_all([FulfillmentItem(fulfillment_id=fulfillment.id, line_id=line_id, qty=qty)
                        for line_id, qty in wanted.items()])
        await record_event(uow, order, "fulfillment.created", {
            "fulfillment_ref": fulfillment.ref, "items": [{"line_id": k, "qty": qty_str(v)} for k, v in wanted.items()],
        }, actor=actor)
    return order, fulfillment


async def _fulfilled(db: Any, order_id: int) -> dict[str, Decimal]:
    rows = await db.execute(
        select(col(FulfillmentItem.line_id), col(FulfillmentItem.qty))
        .join(Fulfillment, col(Fulfillment.id) == col(FulfillmentItem.fulfillment_id))
        .where(col(Fulfillment.order_id) == order_id, col(Fulfillment.status) != "cancelled"))
    done: dict[str, Decimal] = {}
    for line_id, qty in rows:
        done[line_id] = done.get(line_id, Decimal(0)) + qty
    return done


async def update_fulfillment(
    hub: Hub, *, fulfillment_ref: str, status: str | None = None, actor: str = "system", **text: str | None
) -> tuple[Order, Fulfillment]:
    """Move a fulfillment along `pending → in_progress → shipped → delivered` (or `cancelled`) and/or set its
    carrier and tracking fields.

    Errors: not_found, invalid_transition, terminal_status, invalid_input.
    """
    fields = _check_text(hub, text)
    async with hub.transaction() as uow:
        fulfillment = (await uow.db.execute(
            select(Fulfillment).where(col(Fulfillment.ref) == fulfillment_ref))).scalar_one_or_none()
        if fulfillment is None:
            raise fulfillment_not_found(fulfillment_ref)
        order_ref = (await uow.db.execute(
            select(col(Order.ref)).where(col(Order.id) == fulfillment.order_id))).scalar_one()
        order, _ = await lock_order(uow.db, order_ref)
        await uow.db.refresh(fulfillment)
        old = fulfillment.status
        if status is not None and status != old:
            allowed = FULFILLMENT_FLOW.get(old, ())
            if not allowed:
                raise OmnimanError(ErrorCode.TERMINAL_STATUS, f"The fulfillment is {old!r}, a final status.",
                                   field=("status",), context={"current": old, "requested": status})
            if status not in allowed:
                raise OmnimanError(ErrorCode.INVALID_TRANSITION, f"A fulfillment cannot go from {old!r} to {status!r}.",
                                   field=("status",),
                                   context={"current": old, "requested": status, "allowed": list(allowed)})
            fulfillment.status = status
            now = utcnow()
            if status == "shipped" and fulfillment.shipped_at is None:
                fulfillment.shipped_at = now
            if status == "delivered" and fulfillment.delivered_at is None:
                fulfillment.delivered_at = now
        for key, value in fields.items():
            setattr(fulfillment, key, value)
        fulfillment.updated_at = utcnow()
        await uow.db.flush()
        await record_event(uow, order, f"fulfillment.{fulfillment.status}" if status else "fulfillment.updated", {
            "fulfillment_ref": fulfillment.ref, "old_status": old, "new_status": fulfillment.status, **fields,
        }, actor=actor)
    return order, fulfillment

"""Payment on the order (§14): its state, `attach_payment` and `refund_payment`, and the moves the directives make.

The state is a row of `order_payments`, written on the first move under the order's row lock; before that it is what
the snapshot says (an intent in `data.payment` → `pending`, else `none`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from ..domain.limits import check_optional_string, check_string
from ..errors import ErrorCode, OmnimanError
from ..models import Order, OrderPayment, utcnow
from ..runtime import Hub
from ..uow import UnitOfWork
from .common import lock_order
from .events import record_event
from .outbox import enqueue

CAPTURED = ("captured", "partially_refunded", "refunded")
CLOSED_ORDER = ("cancelled", "returned")


def initial_payment(order: Any) -> OrderPayment:
    """The state of an order whose payment never moved: read from its snapshot."""
    return payment_from_snapshot(order.id, order.snapshot, order.total_q)


def payment_from_snapshot(order_id: int, snapshot: dict[str, Any], total_q: int) -> OrderPayment:
    doc = (snapshot.get("data") or {}).get("payment") or {}
    doc = doc if isinstance(doc, dict) else {}
    intent = doc.get("intent_id") if isinstance(doc.get("intent_id"), str) and doc.get("intent_id") else None
    method = doc.get("method") if isinstance(doc.get("method"), str) else None
    return OrderPayment(order_id=order_id, status="pending" if intent else "none", intent_id=intent,
                        method=method, amount_q=total_q)


async def locked_payment(uow: UnitOfWork, order: Any) -> OrderPayment:
    """The order's payment row, made from the snapshot when it has none. The caller holds the order's row lock, so
    no concurrent mover can insert it in between."""
    row = (await uow.db.execute(select(OrderPayment).where(col(OrderPayment.order_id) == order.id)
                                .with_for_update())).scalar_one_or_none()
    if row is None:
        row = initial_payment(order)
        uow.db.add(row)
    return row


async def payments_for_orders(hub: Hub, order_ids: Sequence[int]) -> dict[int, OrderPayment]:
    """The stored payment rows of these orders (orders without one: see `initial_payment`)."""
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.db.execute(select(OrderPayment).where(
            col(OrderPayment.order_id).in_(list(set(order_ids)))))).scalars()
        return {row.order_id: row for row in rows}


async def payment_of(hub: Hub, order: Any) -> OrderPayment:
    return (await payments_for_orders(hub, [order.id])).get(order.id) or initial_payment(order)


def refundable_q(payment: OrderPayment) -> int:
    return max(0, payment.captured_q - payment.refunded_q - payment.pending_refund_q)


def _touch(payment: OrderPayment) -> None:
    payment.updated_at = utcnow()


async def attach_payment(hub: Hub, *, ref: str, intent_id: str, method: str | None = None,
                         actor: str = "system") -> Order:
    """Give an order without a captured payment a new intent and queue its capture (`payment.attached` event).

    Errors: not_found, payment_already_captured, terminal_status (a cancelled or returned order), invalid_input.
    """
    limits = hub.registry.limits
    intent_id = check_string(intent_id, limits, field=("intent_id",), code=ErrorCode.INVALID_INPUT,
                             what="`intent_id`")
    method = check_optional_string(method, limits, field=("method",), what="`method`")
    async with hub.transaction() as uow:
        order, _ = await lock_order(uow.db, ref)
        if order.status in CLOSED_ORDER:
            raise OmnimanError(ErrorCode.TERMINAL_STATUS, f"The order is {order.status!r}: nothing to pay.",
                               field=("ref",), context={"current": order.status})
        payment = await locked_payment(uow, order)
        if payment.status in CAPTURED:
            raise OmnimanError(ErrorCode.PAYMENT_ALREADY_CAPTURED,
                               f"The payment of {order.ref} is already {payment.status}.", field=("ref",),
                               context={"status": payment.status, "intent_id": payment.intent_id})
        previous = payment.intent_id
        payment.intent_id, payment.method = intent_id, method or payment.method
        payment.status, payment.last_error = "pending", None
        _touch(payment)
        await uow.db.flush()
        await record_event(uow, order, "payment.attached",
                           {"intent_id": intent_id, "method": payment.method, "previous_intent_id": previous},
                           actor=actor)
        await enqueue(uow, "payment.capture", {
            "order_ref": order.ref, "channel_code": order.channel_code, "session_key": order.session_key,
            "intent_id": intent_id, "amount_q": payment.amount_q}, order_ref=order.ref)
    return order


async def refund_payment(hub: Hub, *, ref: str, amount_q: int | None = None, reason: str | None = None,
                         actor: str = "system") -> Order:
    """Refund `amount_q` (default: all that is left) of the order's captured payment; queued as `payment.refund`,
    `payment.refunded` is appended when the gateway has done it. Partial refunds add up.

    Errors: not_found, over_refund (context: refundable_q), invalid_input.
    """
    reason = check_optional_string(reason, hub.registry.limits, field=("reason",), what="`reason`")
    if amount_q is not None and (isinstance(amount_q, bool) or not isinstance(amount_q, int) or amount_q <= 0):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "`amount_q` must be a positive integer (minor units).",
                           field=("amount_q",))
    async with hub.transaction() as uow:
        order, _ = await lock_order(uow.db, ref)
        payment = await locked_payment(uow, order)
        left = refundable_q(payment)
        amount = left if amount_q is None else amount_q
        if amount <= 0 or amount > left:
            raise OmnimanError(ErrorCode.OVER_REFUND,
                               f"At most {left} can be refunded on {order.ref} ({amount} asked).",
                               field=("amount_q",), context={"refundable_q": left, "requested_q": amount})
        payload = await reserve_refund(uow, order, payment, amount, reason or "")
        await enqueue(uow, "payment.refund", payload, order_ref=order.ref)
    return order


async def reserve_refund(uow: UnitOfWork, order: Any, payment: OrderPayment, amount_q: int | None,
                         reason: str) -> dict[str, Any]:
    """The payload of a `payment.refund` of `amount_q` (None: all that the capture leaves, decided when it runs),
    counted as pending at once; the caller queues it. The order and its payment are locked by the caller."""
    payment.refunds_count += 1
    if amount_q is not None:
        payment.pending_refund_q += amount_q
    _touch(payment)
    await uow.db.flush()
    payload: dict[str, Any] = {"order_ref": order.ref, "channel_code": order.channel_code,
                               "session_key": order.session_key, "intent_id": payment.intent_id,
                               "refund_id": f"R{payment.refunds_count}", "reason": reason}
    if amount_q is not None:
        payload.update(amount_q=amount_q, reserved=True)
    return payload

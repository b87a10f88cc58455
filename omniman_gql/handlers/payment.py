"""Payment directives: `payment.capture` and `payment.refund`, each charging at most once, moving the order's payment
state and logging one event (`payment.captured`, `payment.refunded`; `payment.failed` when a capture fails for good)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from ..models import Directive, Order, OrderEvent
from ..protocols import PaymentResult
from ..runtime import Hub
from ..services.common import lock_order
from ..services.directives import DirectiveFailed
from ..services.events import record_event
from ..services.payments import CAPTURED, CLOSED_ORDER, locked_payment, payment_of, refundable_q

log = logging.getLogger("omniman.directives.payment")

ACTOR = "system"


async def _refund_done(db: Any, order_id: int | None, refund_id: str) -> bool:
    payloads = (await db.execute(select(OrderEvent.payload).where(
        OrderEvent.order_id == order_id, OrderEvent.type == "payment.refunded"))).scalars()
    return any((p or {}).get("refund_id") == refund_id for p in payloads)


async def _capture_pending(db: Any, order_ref: str) -> bool:
    found = (await db.execute(select(Directive.id).where(
        Directive.order_ref == order_ref, Directive.topic == "payment.capture",
        Directive.status.in_(("queued", "running"))).limit(1))).scalar_one_or_none()  # type: ignore[attr-defined]
    return found is not None


async def _order(hub: Hub, order_ref: Any) -> Order:
    async with hub.transaction(readonly=True) as uow:
        order = (await uow.db.execute(select(Order).where(Order.ref == order_ref))).scalar_one_or_none()
    if order is None:
        raise DirectiveFailed(f"no order {order_ref!r}")
    return order


def _superseded(payload: dict[str, Any], intent: str | None) -> bool:
    """A capture of an intent the order no longer has (`attachPayment` gave it another one since)."""
    given = payload.get("intent_id")
    return bool(given and intent and given != intent)


async def payment_capture(hub: Hub, directive: Directive) -> None:
    """Capture the order's payment intent; a cancelled or returned order is not captured. Appends `payment.captured`
    once and sets the payment `captured`; a decline fails the directive at once (see `capture_failed`)."""
    payload = directive.payload
    order = await _order(hub, payload.get("order_ref"))
    payment = await payment_of(hub, order)
    if order.status in CLOSED_ORDER:
        log.info("payment.capture %s: order %s is %s; not capturing", directive.id, order.ref, order.status)
        return
    if payment.status in CAPTURED or _superseded(payload, payment.intent_id):
        return  # done before, or an older intent's capture run again
    intent = payload.get("intent_id") or payment.intent_id
    if not intent or not isinstance(intent, str):
        raise DirectiveFailed(f"order {order.ref} has no payment intent (payload intent_id or data.payment.intent_id)")
    amount_q = int(payload.get("amount_q") or payment.amount_q)
    # The gateway call stays outside any transaction (no lock held during network I/O); the gateway's own idempotency
    # (the reference, or `already`) covers two deliveries racing here, and the event below is written once.
    result = await hub.registry.payment.capture(intent, amount_q, reference=f"{order.ref}:capture")
    _check(result, refund=False)
    async with hub.transaction() as uow:
        locked, _ = await lock_order(uow.db, order.ref)
        state = await locked_payment(uow, locked)
        if state.status in CAPTURED:
            return
        state.status, state.intent_id, state.captured_q, state.last_error = "captured", intent, amount_q, None
        await uow.db.flush()
        await record_event(uow, locked, "payment.captured", {
            "intent_id": intent, "amount_q": amount_q, "gateway_status": result.status, "already": result.already,
            "directive_id": directive.id,
        }, actor=ACTOR)


async def capture_failed(hub: Hub, directive: Directive, reason: str) -> None:
    """The capture failed for good (declined, no intent, retries used up): the payment is `failed`, with the reason,
    and `payment.failed` is appended, so displays and operators see it without reading directives."""
    async with hub.transaction() as uow:
        order, _ = await lock_order(uow.db, str(directive.payload.get("order_ref")))
        payment = await locked_payment(uow, order)
        if payment.status in CAPTURED or _superseded(directive.payload, payment.intent_id):
            return
        payment.status, payment.last_error = "failed", reason
        await uow.db.flush()
        await record_event(uow, order, "payment.failed", {
            "intent_id": directive.payload.get("intent_id") or payment.intent_id, "reason": reason,
            "directive_id": directive.id}, actor=ACTOR)


async def payment_refund(hub: Hub, directive: Directive) -> None:
    """Refund the payload's `amount_q` (else all the capture leaves) of the order's intent. Waits for a capture still
    queued or running; refunds nothing when nothing was captured. Appends `payment.refunded` once per refund."""
    payload = directive.payload
    refund_id = str(payload.get("refund_id") or f"D{directive.id}")
    order = await _order(hub, payload.get("order_ref"))
    async with hub.transaction(readonly=True) as uow:
        if await _refund_done(uow.db, order.id, refund_id):
            return  # done before: this delivery is a duplicate
        capture_pending = await _capture_pending(uow.db, order.ref)
    payment = await payment_of(hub, order)
    if payment.status not in CAPTURED:
        if capture_pending:  # refunding before the capture lands would let the capture charge afterwards
            raise RuntimeError(f"the capture of order {order.ref} is still queued or running; the refund waits for it")
        log.info("payment.refund %s: nothing was captured for order %s; nothing to refund", directive.id, order.ref)
        return
    reserved = "amount_q" in payload and bool(payload.get("reserved"))
    amount_q = int(payload["amount_q"]) if "amount_q" in payload else refundable_q(payment)
    if amount_q <= 0:
        return
    intent = str(payment.intent_id or payload.get("intent_id"))
    result = await hub.registry.payment.refund(intent, amount_q, reference=f"{order.ref}:refund:{refund_id}")
    _check(result, refund=True)
    async with hub.transaction() as uow:
        locked, _ = await lock_order(uow.db, order.ref)
        if await _refund_done(uow.db, locked.id, refund_id):
            return
        state = await locked_payment(uow, locked)
        state.refunded_q += amount_q
        if reserved:
            state.pending_refund_q = max(0, state.pending_refund_q - amount_q)
        state.status = "refunded" if state.refunded_q >= state.captured_q else "partially_refunded"
        await uow.db.flush()
        await record_event(uow, locked, "payment.refunded", {
            "intent_id": intent, "amount_q": amount_q, "reason": payload.get("reason") or "",
            "refund_id": refund_id, "gateway_status": result.status, "already": result.already,
            "directive_id": directive.id,
        }, actor=ACTOR)


async def refund_failed(hub: Hub, directive: Directive, reason: str) -> None:
    """A refund failed for good: what it had reserved is refundable again, and the reason is kept on the payment."""
    payload = directive.payload
    async with hub.transaction() as uow:
        order, _ = await lock_order(uow.db, str(payload.get("order_ref")))
        payment = await locked_payment(uow, order)
        if payload.get("reserved") and "amount_q" in payload:
            payment.pending_refund_q = max(0, payment.pending_refund_q - int(payload["amount_q"]))
        payment.last_error = reason
        await uow.db.flush()
        await record_event(uow, order, "payment.refund_failed", {
            "amount_q": payload.get("amount_q"), "reason": reason, "directive_id": directive.id}, actor=ACTOR)


def _check(result: PaymentResult, *, refund: bool) -> None:
    if result.status == "failed":
        reason = result.detail.get("reason") or "declined"
        raise DirectiveFailed(f"the gateway refused the {'refund' if refund else 'capture'} of {result.intent_id}: "
                              f"{reason}")
    ok = {"refunded"} if refund else {"captured"} | ({"refunded", "partially_refunded"} if result.already else set())
    if result.status not in ok:  # e.g. "pending": ask again later
        raise RuntimeError(f"payment {result.intent_id} is {result.status!r}, not yet "
                           f"{'refunded' if refund else 'captured'}")


payment_capture.on_failed = capture_failed  # type: ignore[attr-defined]
payment_refund.on_failed = refund_failed  # type: ignore[attr-defined]

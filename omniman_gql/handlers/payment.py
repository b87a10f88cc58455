"""Payment directives: `payment.capture` and `payment.refund`, each charging at most once and logging one event."""

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

log = logging.getLogger("omniman.directives.payment")

ACTOR = "system"


async def _has_event(db: Any, order_id: int | None, type_: str) -> bool:
    found = (await db.execute(
        select(OrderEvent.id).where(OrderEvent.order_id == order_id, OrderEvent.type == type_).limit(1)
    )).scalar_one_or_none()
    return found is not None


async def _capture_pending(db: Any, order_ref: str) -> bool:
    found = (await db.execute(select(Directive.id).where(
        Directive.order_ref == order_ref, Directive.topic == "payment.capture",
        Directive.status.in_(("queued", "running"))).limit(1))).scalar_one_or_none()  # type: ignore[attr-defined]
    return found is not None


def _intent_of(payload: dict[str, Any], order: Order) -> str:
    intent = payload.get("intent_id") or ((order.snapshot.get("data") or {}).get("payment") or {}).get("intent_id")
    if not intent or not isinstance(intent, str):
        raise DirectiveFailed(f"order {order.ref} has no payment intent (payload intent_id or data.payment.intent_id)")
    return intent


async def _settle(hub: Hub, directive: Directive, *, refund: bool) -> None:
    payload = directive.payload
    event_type = "payment.refunded" if refund else "payment.captured"
    order_ref = payload.get("order_ref")
    async with hub.transaction(readonly=True) as uow:
        order = (await uow.db.execute(select(Order).where(Order.ref == order_ref))).scalar_one_or_none()
        if order is None:
            raise DirectiveFailed(f"no order {order_ref!r}")
        if await _has_event(uow.db, order.id, event_type):
            return  # done before: this delivery is a duplicate
        captured = await _has_event(uow.db, order.id, "payment.captured")
        capture_pending = refund and not captured and await _capture_pending(uow.db, order.ref)
    if not refund and order.status == "cancelled":
        log.info("payment.capture %s: order %s is cancelled; not capturing", directive.id, order.ref)
        return
    if capture_pending:  # refunding before the capture lands would let the capture charge afterwards
        raise RuntimeError(f"the capture of order {order.ref} is still queued or running; the refund waits for it")
    intent = _intent_of(payload, order)
    if refund and not captured and await hub.registry.payment.get_status(intent) not in ("captured", "refunded"):
        log.info("payment.refund %s: nothing was captured for order %s; nothing to refund", directive.id, order.ref)
        return
    amount_q = int(payload.get("amount_q", order.total_q))
    gateway = hub.registry.payment
    # The gateway call stays outside any transaction (no lock held during network I/O); the gateway's own idempotency
    # (the reference, or `already`) covers two deliveries racing here, and the event below is written once.
    if refund:
        result = await gateway.refund(intent, amount_q, reference=f"{order.ref}:refund")
    else:
        result = await gateway.capture(intent, amount_q, reference=f"{order.ref}:capture")
    _check(result, refund=refund)
    async with hub.transaction() as uow:
        locked, _ = await lock_order(uow.db, order.ref)
        if await _has_event(uow.db, locked.id, event_type):
            return
        await record_event(uow, locked, event_type, {
            "intent_id": intent, "amount_q": amount_q, "gateway_status": result.status, "already": result.already,
            "directive_id": directive.id,
        }, actor=ACTOR)


def _check(result: PaymentResult, *, refund: bool) -> None:
    if result.status == "failed":
        reason = result.detail.get("reason") or "declined"
        raise DirectiveFailed(f"the gateway refused the {'refund' if refund else 'capture'} of {result.intent_id}: "
                              f"{reason}")
    ok = {"refunded"} if refund else {"captured"} | ({"refunded"} if result.already else set())
    if result.status not in ok:  # e.g. "pending": ask again later
        raise RuntimeError(f"payment {result.intent_id} is {result.status!r}, not yet "
                           f"{'refunded' if refund else 'captured'}")


async def payment_capture(hub: Hub, directive: Directive) -> None:
    """Capture the order's payment intent; a cancelled order is not captured. Appends `payment.captured` once."""
    await _settle(hub, directive, refund=False)


async def payment_refund(hub: Hub, directive: Directive) -> None:
    """Refund the order's payment intent. Appends `payment.refunded` once."""
    await _settle(hub, directive, refund=True)

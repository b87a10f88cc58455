"""What cancelling or returning an order does besides moving its status (§13): restock what its commit took,
release the holds still active, refund a captured payment — whatever the channel's `on_status` lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..uow import UnitOfWork
from .payments import CAPTURED, locked_payment, refundable_q, reserve_refund

CLOSING_STATUSES = ("cancelled", "returned")
# Topics the hub queues itself on a closing status; the channel's `on_status` naming them too changes nothing.
OWN_TOPICS = ("stock.restock", "stock.release", "payment.refund")


def restocks(config: Mapping[str, Any]) -> bool:
    """`restock_on_cancel: false` keeps sold stock out (a kitchen that threw the food away)."""
    return config.get("restock_on_cancel", True) is not False


async def closing_directives(uow: UnitOfWork, order: Any, config: Mapping[str, Any], status: str,
                             topics: Sequence[str], base: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The directives a transition to `status` queues: the channel's `on_status` topics, plus, on a closing status,
    `stock.restock` (unless turned off), `stock.release` and `payment.refund` (when a payment was or may be
    captured) once each. The order is locked by the caller."""
    if status not in CLOSING_STATUSES:
        return [(topic, base) for topic in topics]
    queued: list[tuple[str, Mapping[str, Any]]] = [(topic, base) for topic in topics if topic not in OWN_TOPICS]
    if restocks(config):
        queued.append(("stock.restock", base))
    queued.append(("stock.release", base))
    payment = await locked_payment(uow, order)
    if payment.status in CAPTURED:
        left = refundable_q(payment)
        if left > 0:
            refund = await reserve_refund(uow, order, payment, left, f"order {status}")
            queued.append(("payment.refund", {**refund, "status": status}))
    elif payment.intent_id and payment.status in ("pending", "authorized"):
        # The capture may still land: the refund waits for it and gives back whatever it took.
        refund = await reserve_refund(uow, order, payment, None, f"order {status}")
        queued.append(("payment.refund", {**refund, "status": status}))
    return queued

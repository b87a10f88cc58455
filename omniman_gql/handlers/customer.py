"""Customer directive: `customer.record_order` keeps a customer's figures (orders, amount spent, last order)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..domain.customers import UNCOUNTED
from ..models import Order, table_of
from ..protocols import OrderFigures
from ..runtime import Hub

_ORDERS = table_of(Order)


async def customer_record_order(hub: Hub, directive: Any) -> None:
    """Count the order in its customer's figures as its status stands now, so the commit's directive and a
    cancellation's may run in any order, and any number of times, and land the same."""
    ref = directive.payload.get("order_ref")
    async with hub.transaction() as uow:
        order = (await uow.execute(select(_ORDERS.c.customer_code, _ORDERS.c.status, _ORDERS.c.total_q,
                                          _ORDERS.c.created_at).where(_ORDERS.c.ref == ref))).first()
        if order is None or not order.customer_code:
            return  # nothing to count: no such order, or no customer on it
        await hub.registry.customers.record_order(uow, order.customer_code, OrderFigures(
            order_ref=ref, total_q=order.total_q, ordered_at=order.created_at,
            counted=order.status not in UNCOUNTED))

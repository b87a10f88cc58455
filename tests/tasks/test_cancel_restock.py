"""Cancel and return (§13): restock what the commit took (once per order), release holds, refund the capture; a
closed order cannot be fulfilled."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from sqlalchemy import update

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.models import Channel, Directive, Order, StockHold, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.services import fulfillments, orders, payments
from omniman_gql.settings import Settings
from tests.services.support import raises
from tests.tasks.support import (
    all_finished,
    cart,
    checkout,
    describe,
    directives,
    ecommerce,
    enqueue,
    events,
    eventually,
    holds,
)
from tests.tasks.support import on_hand as stock_on_hand
from tests.tasks.test_worker_flow import checked_session, order_directives_done

pytestmark = pytest.mark.anyio


async def sold(hub: Hub, *, config: dict[str, Any] | None = None, intent: str = "pi_cake") -> Order:
    """A web-shop order of 2 CHEESECAKE (10 on hand), its hold checked and its post-commit directives run by hand."""
    shop = await ecommerce(hub, {"CHEESECAKE": "10"}, {"CHEESECAKE": 1500})
    if config is not None:
        async with hub.transaction() as uow:
            await uow.db.execute(update(Channel).where(Channel.code == shop).values(config=config))
    key = await cart(hub, shop, [("CHEESECAKE", "2")], intent=intent)
    (hold,) = await directives(hub, Directive.topic == "stock.hold")
    await svc.run_directive(hub, hold.id or 0)
    order = (await checkout(hub, shop, key)).order
    assert order is not None
    for row in await directives(hub, Directive.order_ref == order.ref):
        await svc.run_directive(hub, row.id or 0)
    return order


async def run_all(hub: Hub, order: Order, topic: str) -> list[Directive]:
    rows = await directives(hub, Directive.order_ref == order.ref, Directive.topic == topic)
    for row in rows:
        await svc.run_directive(hub, row.id or 0)
    return await directives(hub, Directive.order_ref == order.ref, Directive.topic == topic)


async def requeue(hub: Hub, directive_id: int | None) -> None:
    async with hub.transaction() as uow:
        await uow.db.execute(update(Directive).where(Directive.id == directive_id).values(
            status="queued", available_at=utcnow()))


async def test_web_shop_cancel_through_the_worker_restocks_and_refunds(dispatching_hub: Hub, worker: Any) -> None:
    hub = dispatching_hub
    shop = await ecommerce(hub, {"CHEESECAKE": "10"}, {"CHEESECAKE": 1500})
    key = await cart(hub, shop, [("CHEESECAKE", "2")], intent="pi_shop")
    await eventually(lambda: checked_session(hub, shop, key), what="the stock check")
    order = (await checkout(hub, shop, key)).order
    assert order is not None
    await eventually(lambda: order_directives_done(hub, order.ref, 2), what="post-commit directives")
    after_commit = await stock_on_hand(hub, "CHEESECAKE")

    await orders.transition_order(hub, ref=order.ref, status="cancelled", actor="ops")
    rows = await eventually(lambda: order_directives_done(hub, order.ref, 5), what="the cancel's directives")

    assert all(d.status == "done" for d in rows), describe(rows)
    assert (after_commit, await stock_on_hand(hub, "CHEESECAKE")) == (8, 10)
    (refunded,) = await events(hub, order.id, "payment.refunded")
    assert refunded.payload["amount_q"] == 3000 and refunded.payload["reason"] == "order cancelled"
    payment = await payments.payment_of(hub, order)
    assert (payment.status, payment.captured_q, payment.refunded_q) == ("refunded", 3000, 3000)


async def test_restock_run_twice_restocks_once(task_hub: Hub) -> None:
    order = await sold(task_hub)
    await orders.transition_order(task_hub, ref=order.ref, status="cancelled")

    (first,) = await run_all(task_hub, order, "stock.restock")
    once = await stock_on_hand(task_hub, "CHEESECAKE")
    await requeue(task_hub, first.id)
    (again,) = await run_all(task_hub, order, "stock.restock")

    assert (first.status, again.status, again.attempts) == ("done", "done", 2)
    assert (once, await stock_on_hand(task_hub, "CHEESECAKE")) == (10, 10)
    assert [h.status for h in await holds(task_hub)] == ["restocked"]
    (event,) = await events(task_hub, order.id, "stock.restocked")
    assert event.payload["items"] == [{"sku": "CHEESECAKE", "qty": "2"}]


async def test_restock_on_cancel_false_keeps_the_sold_stock_out(task_hub: Hub) -> None:
    config = {"required_checks_on_commit": ["stock"], "post_commit_directives": ["stock.commit", "payment.capture"],
              "restock_on_cancel": False}
    order = await sold(task_hub, config=config)
    await orders.transition_order(task_hub, ref=order.ref, status="cancelled")

    topics = [d.topic for d in await directives(task_hub, Directive.order_ref == order.ref)]
    for topic in ("stock.release", "payment.refund"):
        await run_all(task_hub, order, topic)

    assert topics == ["stock.commit", "payment.capture", "stock.release", "payment.refund"]
    assert await stock_on_hand(task_hub, "CHEESECAKE") == 8
    assert (await payments.payment_of(task_hub, order)).status == "refunded"


async def test_a_return_restocks_even_when_on_status_names_nothing(task_hub: Hub) -> None:
    order = await sold(task_hub)
    for status in ("confirmed", "ready", "dispatched", "returned"):
        await orders.transition_order(task_hub, ref=order.ref, status=status)

    await run_all(task_hub, order, "stock.restock")

    assert await stock_on_hand(task_hub, "CHEESECAKE") == 10


async def test_two_concurrent_cancels_restock_once(task_settings: Settings) -> None:
    hubs = [Hub.create(task_settings) for _ in range(2)]
    try:
        order = await sold(hubs[0])
        outcomes: list[str] = []

        async def cancel(hub: Hub) -> None:
            try:
                await orders.transition_order(hub, ref=order.ref, status="cancelled")
                outcomes.append("cancelled")
            except OmnimanError as exc:
                outcomes.append(exc.code.value)

        async with anyio.create_task_group() as tg:
            for hub in hubs:
                tg.start_soon(cancel, hub)
        (restock,) = await directives(hubs[0], Directive.order_ref == order.ref, Directive.topic == "stock.restock")
        # A second restock of the same order (a plugin or an operator queued one too), both run at once.
        twin = await enqueue(hubs[0], "stock.restock", restock.payload)
        async with anyio.create_task_group() as tg:
            tg.start_soon(svc.run_directive, hubs[0], restock.id or 0)
            tg.start_soon(svc.run_directive, hubs[1], twin)
        level = await stock_on_hand(hubs[0], "CHEESECAKE")
        restocked = await events(hubs[0], order.id, "stock.restocked")
    finally:
        for hub in hubs:
            await hub.dispose()
    assert sorted(outcomes) == ["cancelled", "terminal_status"]
    assert level == 10
    assert len(restocked) == 1


async def test_error_order_not_fulfillable_for_a_cancelled_order(task_hub: Hub) -> None:
    order = await sold(task_hub)
    await orders.transition_order(task_hub, ref=order.ref, status="cancelled")

    error = await raises(ErrorCode.ORDER_NOT_FULFILLABLE, fulfillments.create_fulfillment(
        task_hub, ref=order.ref, items=[{"line_id": order.snapshot["items"][0]["line_id"], "qty": "1"}]))

    assert error.context == {"status": "cancelled"} and error.field == ("ref",)


async def test_cancel_before_the_capture_lands_refunds_what_it_took(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"CHEESECAKE": "10"}, {"CHEESECAKE": 1500})
    key = await cart(task_hub, shop, [("CHEESECAKE", "1")], intent="pi_late")
    (hold,) = await directives(task_hub, Directive.topic == "stock.hold")
    await svc.run_directive(task_hub, hold.id or 0)
    order = (await checkout(task_hub, shop, key)).order
    assert order is not None
    await orders.transition_order(task_hub, ref=order.ref, status="cancelled")

    for topic in ("stock.commit", "payment.capture", "stock.restock", "stock.release", "payment.refund"):
        await run_all(task_hub, order, topic)

    rows = await all_finished(task_hub, Directive.order_ref == order.ref)
    assert rows and all(d.status == "done" for d in rows), describe(rows or [])
    assert await stock_on_hand(task_hub, "CHEESECAKE") == 10
    assert [h.status for h in await holds(task_hub, StockHold.sku == "CHEESECAKE")] == ["released"]
    assert (await payments.payment_of(task_hub, order)).status == "pending"  # never captured, nothing refunded

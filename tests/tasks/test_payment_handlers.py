"""The payment handlers run directly (no broker): capture and refund once, permanent failures, refund ordering."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from omniman_gql.models import Directive, Order, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.services import orders
from tests.tasks.support import cart, checkout, directive, directives, ecommerce, events

pytestmark = pytest.mark.anyio


async def committed(hub: Hub, *, intent: str | None = "pi_1") -> Order:
    shop = await ecommerce(hub, {"MUG": "10"}, {"MUG": 1500})
    key = await cart(hub, shop, [("MUG", "2")], intent=intent)
    (hold,) = await directives(hub, Directive.topic == "stock.hold")
    await svc.run_directive(hub, hold.id or 0)
    order = (await checkout(hub, shop, key)).order
    assert order is not None
    return order


async def run_topic(hub: Hub, order: Order, topic: str) -> Directive:
    (row,) = await directives(hub, Directive.order_ref == order.ref, Directive.topic == topic)
    await svc.run_directive(hub, row.id or 0)
    return await directive(hub, row.id or 0)


async def requeue(hub: Hub, directive_id: int | None) -> None:
    async with hub.transaction() as uow:
        await uow.db.execute(update(Directive).where(Directive.id == directive_id).values(
            status="queued", available_at=utcnow()))


async def test_capture_appends_one_payment_captured_event_even_when_run_again(task_hub: Hub) -> None:
    order = await committed(task_hub, intent="pi_once")

    first = await run_topic(task_hub, order, "payment.capture")
    await requeue(task_hub, first.id)
    again = await run_topic(task_hub, order, "payment.capture")

    (event,) = await events(task_hub, order.id, "payment.captured")
    assert (first.status, again.status, again.attempts) == ("done", "done", 2)
    assert event.payload == {"intent_id": "pi_once", "amount_q": 3000, "gateway_status": "captured",
                             "already": False, "directive_id": first.id}
    assert await task_hub.registry.payment.get_status("pi_once") == "captured"


async def test_capture_without_an_intent_fails_at_once_saying_so(task_hub: Hub) -> None:
    order = await committed(task_hub, intent=None)

    row = await run_topic(task_hub, order, "payment.capture")

    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == (f"DirectiveFailed: order {order.ref} has no payment intent "
                              "(payload intent_id or data.payment.intent_id)")
    assert await events(task_hub, order.id, "payment.captured") == []


async def test_declined_capture_fails_at_once_with_the_gateway_reason(task_hub: Hub) -> None:
    order = await committed(task_hub, intent="fail_card")

    row = await run_topic(task_hub, order, "payment.capture")

    assert row.status == "failed"
    assert row.last_error == ("DirectiveFailed: the gateway refused the capture of fail_card: "
                              "declined by the mock gateway")


async def test_refund_after_capture_appends_one_payment_refunded_event(task_hub: Hub) -> None:
    order = await committed(task_hub, intent="pi_back")
    await run_topic(task_hub, order, "payment.capture")
    await orders.transition_order(task_hub, ref=order.ref, status="cancelled")

    refund = await run_topic(task_hub, order, "payment.refund")
    await requeue(task_hub, refund.id)
    again = await run_topic(task_hub, order, "payment.refund")

    assert (refund.status, again.status) == ("done", "done")
    (event,) = await events(task_hub, order.id, "payment.refunded")
    assert event.payload["intent_id"] == "pi_back" and event.payload["amount_q"] == 3000
    assert await task_hub.registry.payment.get_status("pi_back") == "refunded"


async def test_refund_waits_for_a_pending_capture_which_then_skips_the_cancelled_order(task_hub: Hub) -> None:
    order = await committed(task_hub, intent="pi_race")
    await orders.transition_order(task_hub, ref=order.ref, status="cancelled")

    waiting = await run_topic(task_hub, order, "payment.refund")  # the capture is still queued
    capture = await run_topic(task_hub, order, "payment.capture")
    await requeue(task_hub, waiting.id)
    refund = await run_topic(task_hub, order, "payment.refund")

    assert waiting.status == "queued" and "still queued or running; the refund waits" in waiting.last_error
    assert capture.status == "done" and refund.status == "done"
    assert await events(task_hub, order.id, "payment.captured") == []
    assert await events(task_hub, order.id, "payment.refunded") == []  # nothing captured, nothing refunded
    assert await task_hub.registry.payment.get_status("pi_race") == "authorized"

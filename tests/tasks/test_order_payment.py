"""Payment on the order (§14): a declined card is visible, attachPayment fixes it, partial refunds add up, the mock
gateway's intents are in the database."""

from __future__ import annotations

import pytest

from omniman_gql.errors import ErrorCode
from omniman_gql.models import Directive, MockPaymentIntent, Order
from omniman_gql.registry import build_registry
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.services import orders, payments
from tests.services.support import raises, rows
from tests.tasks.support import cart, checkout, directives, ecommerce, events

pytestmark = pytest.mark.anyio


async def committed(hub: Hub, *, intent: str | None, price: int = 500) -> Order:
    """An order of 2 × `price`, its stock held and committed, its capture not run yet."""
    shop = await ecommerce(hub, {"PIE": "10"}, {"PIE": price})
    key = await cart(hub, shop, [("PIE", "2")], intent=intent)
    for hold in await directives(hub, Directive.topic == "stock.hold", Directive.status == "queued"):
        await svc.run_directive(hub, hold.id or 0)
    order = (await checkout(hub, shop, key)).order
    assert order is not None
    return order


async def run_pending(hub: Hub, order: Order, topic: str) -> list[Directive]:
    """Run every queued directive of `topic` of the order; return them all afterwards."""
    for row in await directives(hub, Directive.order_ref == order.ref, Directive.topic == topic,
                                Directive.status == "queued"):
        await svc.run_directive(hub, row.id or 0)
    return await directives(hub, Directive.order_ref == order.ref, Directive.topic == topic)


async def test_payment_before_any_move_is_read_from_the_snapshot(task_hub: Hub) -> None:
    with_intent = await committed(task_hub, intent="pi_snap")
    without = await committed(task_hub, intent=None)

    first = await payments.payment_of(task_hub, with_intent)
    second = await payments.payment_of(task_hub, without)

    assert (first.status, first.intent_id, first.amount_q, first.captured_q) == ("pending", "pi_snap", 1000, 0)
    assert (second.status, second.intent_id) == ("none", None)


async def test_declined_card_fails_the_payment_with_an_event_then_attach_payment_captures(task_hub: Hub) -> None:
    order = await committed(task_hub, intent="fail_card")

    (capture,) = await run_pending(task_hub, order, "payment.capture")
    declined = await payments.payment_of(task_hub, order)
    (failed,) = await events(task_hub, order.id, "payment.failed")
    await payments.attach_payment(task_hub, ref=order.ref, intent_id="pi_good", method="card", actor="maria")
    attached = await payments.payment_of(task_hub, order)
    await run_pending(task_hub, order, "payment.capture")
    paid = await payments.payment_of(task_hub, order)

    assert capture.status == "failed"
    assert (declined.status, declined.last_error) == (
        "failed", "the gateway refused the capture of fail_card: declined by the mock gateway")
    assert failed.payload == {"intent_id": "fail_card", "reason": declined.last_error, "directive_id": capture.id}
    assert (attached.status, attached.intent_id, attached.method, attached.last_error) == (
        "pending", "pi_good", "card", None)
    assert (paid.status, paid.captured_q, paid.intent_id) == ("captured", 1000, "pi_good")
    (attach_event,) = await events(task_hub, order.id, "payment.attached")
    assert attach_event.actor == "maria" and attach_event.payload["previous_intent_id"] == "fail_card"
    assert [e.payload["intent_id"] for e in await events(task_hub, order.id, "payment.captured")] == ["pi_good"]


async def test_an_order_committed_without_an_intent_is_fixed_by_attach_payment(task_hub: Hub) -> None:
    order = await committed(task_hub, intent=None)
    (first,) = await run_pending(task_hub, order, "payment.capture")
    failed = await payments.payment_of(task_hub, order)

    await payments.attach_payment(task_hub, ref=order.ref, intent_id="pi_later")
    await run_pending(task_hub, order, "payment.capture")

    assert first.status == "failed" and failed.status == "failed"
    assert (await payments.payment_of(task_hub, order)).status == "captured"


async def test_partial_refunds_add_up_then_over_refund_names_what_is_left(task_hub: Hub) -> None:
    order = await committed(task_hub, intent="pi_split")
    await run_pending(task_hub, order, "payment.capture")

    await payments.refund_payment(task_hub, ref=order.ref, amount_q=300, reason="cold pie")
    await payments.refund_payment(task_hub, ref=order.ref, amount_q=200, reason="late")
    await run_pending(task_hub, order, "payment.refund")
    partial = await payments.payment_of(task_hub, order)
    refunded = await events(task_hub, order.id, "payment.refunded")

    assert (partial.status, partial.captured_q, partial.refunded_q) == ("partially_refunded", 1000, 500)
    assert [(e.payload["amount_q"], e.payload["reason"]) for e in refunded] == [(300, "cold pie"), (200, "late")]
    (ledger,) = await rows(task_hub, MockPaymentIntent, MockPaymentIntent.intent_id == "pi_split")
    assert (ledger.status, ledger.captured_q, ledger.refunded_q) == ("partially_refunded", 1000, 500)


async def test_error_over_refund_counts_refunds_not_landed_yet(task_hub: Hub) -> None:
    order = await committed(task_hub, intent="pi_over")
    await run_pending(task_hub, order, "payment.capture")
    await payments.refund_payment(task_hub, ref=order.ref, amount_q=300)
    await payments.refund_payment(task_hub, ref=order.ref, amount_q=200)  # neither has run yet

    error = await raises(ErrorCode.OVER_REFUND, payments.refund_payment(task_hub, ref=order.ref, amount_q=600))
    await payments.refund_payment(task_hub, ref=order.ref)  # the rest: 500
    await run_pending(task_hub, order, "payment.refund")

    assert error.context == {"refundable_q": 500, "requested_q": 600} and error.field == ("amount_q",)
    payment = await payments.payment_of(task_hub, order)
    assert (payment.status, payment.refunded_q, payment.pending_refund_q) == ("refunded", 1000, 0)
    await raises(ErrorCode.OVER_REFUND, payments.refund_payment(task_hub, ref=order.ref, amount_q=1))


async def test_error_payment_already_captured_on_attach(task_hub: Hub) -> None:
    order = await committed(task_hub, intent="pi_done")
    await run_pending(task_hub, order, "payment.capture")

    error = await raises(ErrorCode.PAYMENT_ALREADY_CAPTURED,
                         payments.attach_payment(task_hub, ref=order.ref, intent_id="pi_other"))

    assert error.context == {"status": "captured", "intent_id": "pi_done"}


async def test_attach_payment_refuses_a_cancelled_order(task_hub: Hub) -> None:
    order = await committed(task_hub, intent=None)
    await orders.transition_order(task_hub, ref=order.ref, status="cancelled")

    await raises(ErrorCode.TERMINAL_STATUS, payments.attach_payment(task_hub, ref=order.ref, intent_id="pi_x"))


async def test_the_mock_gateway_state_is_shared_by_every_hub(task_hub: Hub) -> None:
    other = Hub.create(task_hub.settings, registry=build_registry(task_hub.settings))  # another process's gateway
    try:
        await task_hub.registry.payment.capture("pi_shared", 700, reference="R-1")
        seen = await other.registry.payment.get_status("pi_shared")
        again = await other.registry.payment.capture("pi_shared", 700, reference="R-1")
    finally:
        await other.dispose()
    assert seen == "captured" and again.already is True

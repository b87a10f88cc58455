"""Fulfillments (§8): split and partial deliveries, their status flow, and never more than was ordered."""

from __future__ import annotations

from decimal import Decimal

import pytest

from omniman_gql.models import Fulfillment, FulfillmentItem, Order, OrderEvent
from omniman_gql.runtime import Hub
from omniman_gql.services import fulfillments
from tests.factories import committed_order, make_channel
from tests.services.support import raises, rows

pytestmark = pytest.mark.anyio


async def order_with_lines(hub: Hub) -> tuple[Order, str, str]:
    code = await make_channel(hub)
    order = await committed_order(hub, code, [("BOX", "3", 1000), ("BAG", "1.5", 200)])
    box, bag = (line["line_id"] for line in order.snapshot["items"])
    return order, box, bag


async def test_split_delivery_up_to_the_ordered_quantity(hub: Hub) -> None:
    order, box, bag = await order_with_lines(hub)
    both = [{"line_id": box, "qty": "2"}, {"line_id": bag, "qty": "1.5"}]
    _, first = await fulfillments.create_fulfillment(hub, ref=order.ref, carrier="Loggi", tracking_code="T1",
                                                     items=both)
    _, second = await fulfillments.create_fulfillment(hub, ref=order.ref, items=[{"line_id": box, "qty": "1"}])
    assert (first.status, first.carrier, first.tracking_code) == ("pending", "Loggi", "T1")
    assert first.ref.startswith("FUL-") and second.ref != first.ref
    items = await rows(hub, FulfillmentItem, order_by=FulfillmentItem.id)
    assert [(i.line_id, i.qty) for i in items] == [(box, Decimal(2)), (bag, Decimal("1.5")), (box, Decimal(1))]
    events = await rows(hub, OrderEvent, OrderEvent.type == "fulfillment.created", order_by=OrderEvent.id)
    assert events[0].payload["items"] == [{"line_id": box, "qty": "2"}, {"line_id": bag, "qty": "1.5"}]


async def test_error_over_fulfillment_names_the_line_and_what_is_left(hub: Hub) -> None:
    order, box, bag = await order_with_lines(hub)
    await fulfillments.create_fulfillment(hub, ref=order.ref, items=[{"line_id": box, "qty": "2"}])
    exc = await raises("over_fulfillment", fulfillments.create_fulfillment(
        hub, ref=order.ref, items=[{"line_id": bag, "qty": "1"}, {"line_id": box, "qty": "1"},
                                   {"line_id": box, "qty": "0.5"}]))  # the same line twice adds up
    assert exc.field == ("items", 1, "qty")
    assert exc.context == {"line_id": box, "ordered": "3", "remaining": "1", "requested": "1.5"}
    assert len(await rows(hub, Fulfillment)) == 1


async def test_cancelled_fulfillments_give_their_quantity_back(hub: Hub) -> None:
    order, box, _ = await order_with_lines(hub)
    _, ful = await fulfillments.create_fulfillment(hub, ref=order.ref, items=[{"line_id": box, "qty": "3"}])
    await raises("over_fulfillment", fulfillments.create_fulfillment(hub, ref=order.ref,
                                                                     items=[{"line_id": box, "qty": "1"}]))
    await fulfillments.update_fulfillment(hub, fulfillment_ref=ful.ref, status="cancelled")
    _, again = await fulfillments.create_fulfillment(hub, ref=order.ref, items=[{"line_id": box, "qty": "3"}])
    assert again.status == "pending"


async def test_fulfillment_status_flow_and_timestamps(hub: Hub) -> None:
    order, box, _ = await order_with_lines(hub)
    _, ful = await fulfillments.create_fulfillment(hub, ref=order.ref, items=[{"line_id": box, "qty": "1"}])
    _, ful = await fulfillments.update_fulfillment(hub, fulfillment_ref=ful.ref, status="in_progress")
    _, ful = await fulfillments.update_fulfillment(hub, fulfillment_ref=ful.ref, status="shipped",
                                                   tracking_url="https://track.example/T1")
    assert ful.shipped_at is not None and ful.tracking_url == "https://track.example/T1"
    _, ful = await fulfillments.update_fulfillment(hub, fulfillment_ref=ful.ref, status="delivered")
    assert ful.delivered_at is not None and ful.delivered_at >= ful.shipped_at
    exc = await raises("terminal_status", fulfillments.update_fulfillment(hub, fulfillment_ref=ful.ref,
                                                                          status="cancelled"))
    assert exc.context == {"current": "delivered", "requested": "cancelled"}
    types = [e.type for e in await rows(hub, OrderEvent, OrderEvent.type.like("fulfillment.%"), order_by=OrderEvent.id)]
    assert types == ["fulfillment.created", "fulfillment.in_progress", "fulfillment.shipped", "fulfillment.delivered"]


async def test_fulfillment_cannot_go_backwards(hub: Hub) -> None:
    order, box, _ = await order_with_lines(hub)
    _, ful = await fulfillments.create_fulfillment(hub, ref=order.ref, items=[{"line_id": box, "qty": "1"}])
    await fulfillments.update_fulfillment(hub, fulfillment_ref=ful.ref, status="shipped")
    exc = await raises("invalid_transition", fulfillments.update_fulfillment(hub, fulfillment_ref=ful.ref,
                                                                             status="pending"))
    assert exc.context == {"current": "shipped", "requested": "pending", "allowed": ["delivered", "cancelled"]}


async def test_fulfillment_input_errors_have_paths(hub: Hub) -> None:
    order, box, _ = await order_with_lines(hub)
    exc = await raises("unknown_line_id", fulfillments.create_fulfillment(
        hub, ref=order.ref, items=[{"line_id": box, "qty": "1"}, {"line_id": "L-NOPE", "qty": "1"}]))
    assert exc.field == ("items", 1, "line_id")
    exc = await raises("invalid_qty", fulfillments.create_fulfillment(
        hub, ref=order.ref, items=[{"line_id": box, "qty": "0"}, {"qty": "1"}]))
    assert [(e.code.value, e.field) for e in exc.errors()] == [
        ("invalid_qty", ("items", 0, "qty")), ("unknown_line_id", ("items", 1, "line_id"))]
    await raises("invalid_input", fulfillments.create_fulfillment(hub, ref=order.ref, items=[]))
    await raises("not_found", fulfillments.create_fulfillment(hub, ref="ORD-NOPE", items=[{"line_id": box, "qty": 1}]))
    exc = await raises("not_found", fulfillments.update_fulfillment(hub, fulfillment_ref="FUL-NOPE", status="shipped"))
    assert exc.field == ("fulfillment_ref",)

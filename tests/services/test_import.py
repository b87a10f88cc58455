"""Importing finished orders from platforms (§9): idempotent on (channel, external_ref), locked/external channels."""

from __future__ import annotations

from typing import Any

import pytest

from omniman_gql.models import Order, OrderEvent, OrderItem, Session
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, orders
from tests.factories import make_channel
from tests.services.support import count, raises, rows

pytestmark = pytest.mark.anyio

LINES: list[dict[str, Any]] = [{"sku": "BURGER", "qty": "2", "unit_price_q": 2990, "name": "X-Burger"},
                               {"sku": "SODA", "qty": "1", "unit_price_q": 700, "meta": {"size": "L"}}]


async def test_import_creates_a_committed_session_and_its_order(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external", edit_policy="locked",
                              config={"post_commit_directives": ["notification.send"]})
    order, created = await orders.import_order(hub, channel_code=code, external_ref="IFOOD-1", items=LINES,
                                               data={"customer": {"name": "Ana"}}, handle_type="ifood",
                                               handle_ref="1", actor="ifood-bridge")
    assert created and order.external_ref == "IFOOD-1" and order.status == "new"
    assert (order.total_q, order.items_count, order.handle_type, order.handle_ref) == (6680, 2, "ifood", "1")
    items = await rows(hub, OrderItem, OrderItem.order_id == order.id, order_by=OrderItem.id)
    assert [(i.sku, i.name, str(i.qty), i.line_total_q, i.meta) for i in items] == [
        ("BURGER", "X-Burger", "2", 5980, {}), ("SODA", "SODA", "1", 700, {"size": "L"})]
    (session,) = await rows(hub, Session, Session.channel_code == code)
    assert (session.state, session.edit_policy, session.data) == ("committed", "locked", {"customer": {"name": "Ana"}})
    (event,) = await rows(hub, OrderEvent, OrderEvent.order_id == order.id)
    assert (event.type, event.actor, event.payload["external_ref"]) == ("created", "ifood-bridge", "IFOOD-1")


async def test_import_is_idempotent_on_channel_and_external_ref(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external")
    other = await make_channel(hub, pricing_policy="external")
    first, created = await orders.import_order(hub, channel_code=code, external_ref="R-1", items=LINES)
    again, created_again = await orders.import_order(hub, channel_code=code, external_ref="R-1", items=LINES[:1])
    elsewhere, created_elsewhere = await orders.import_order(hub, channel_code=other, external_ref="R-1", items=LINES)
    assert (created, created_again, created_elsewhere) == (True, False, True)
    assert again.ref == first.ref and again.total_q == 6680 and elsewhere.ref != first.ref
    assert await count(hub, Order, Order.channel_code == code) == 1


async def test_import_into_an_internal_channel_prices_from_the_table(hub: Hub) -> None:
    code = await make_channel(hub, edit_policy="locked")
    await catalog.set_prices(hub, [{"sku": "PIZZA", "unit_price_q": 4500, "name": "Pizza"}])
    order, _ = await orders.import_order(hub, channel_code=code, external_ref="WA-9",
                                         items=[{"sku": "PIZZA", "qty": "1.5"}])
    assert order.total_q == 6750 and order.snapshot["items"][0]["name"] == "Pizza"
    exc = await raises("missing_unit_price_q", orders.import_order(
        hub, channel_code=code, external_ref="WA-10",
        items=[{"sku": "PIZZA", "qty": "1"}, {"sku": "NOPE", "qty": "1"}]))
    assert exc.field == ("items", 1, "unit_price_q") and exc.context["sku"] == "NOPE"


async def test_import_external_channel_missing_price_names_the_item(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external", edit_policy="locked")
    exc = await raises("missing_unit_price_q", orders.import_order(
        hub, channel_code=code, external_ref="R", items=[LINES[0], {"sku": "FRIES", "qty": "1"}]))
    assert exc.field == ("items", 1, "unit_price_q")
    assert await count(hub, Order) == 0 and await count(hub, Session) == 0


async def test_import_reports_every_bad_item_with_its_path(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external")
    exc = await raises("missing_sku", orders.import_order(hub, channel_code=code, external_ref="R", items=[
        {"sku": "", "qty": "1", "unit_price_q": 1}, {"sku": "A", "qty": 0.5, "unit_price_q": 1},
        {"sku": "B", "qty": "1", "unit_price_q": "ten"}]))
    assert [(e.code.value, e.field) for e in exc.errors()] == [
        ("missing_sku", ("items", 0, "sku")), ("invalid_qty", ("items", 1, "qty")),
        ("invalid_price", ("items", 2, "unit_price_q"))]


async def test_import_refuses_empty_bad_shapes_and_unknown_data_roots(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external")
    await raises("empty_session", orders.import_order(hub, channel_code=code, external_ref="R", items=[]))
    exc = await raises("invalid_input", orders.import_order(hub, channel_code=code, external_ref="R", items=["x"]))
    assert exc.field == ("items", 0)
    exc = await raises("invalid_input", orders.import_order(hub, channel_code=code, external_ref=" ", items=LINES))
    assert exc.field == ("external_ref",)
    exc = await raises("invalid_path", orders.import_order(hub, channel_code=code, external_ref="R", items=LINES,
                                                           data={"checks": {"stock": {}}}))
    assert exc.field == ("data", "checks")
    smuggled = {**LINES[0], "op": "remove_line", "line_id": "L-1"}  # a line is always an add_line
    order, _ = await orders.import_order(hub, channel_code=code, external_ref="R", items=[smuggled])
    assert order.items_count == 1
    await raises("not_found", orders.import_order(hub, channel_code="nope", external_ref="R", items=LINES))


async def test_import_of_too_many_lines_is_refused_on_items(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external")
    exc = await raises("invalid_input", orders.import_order(hub, channel_code=code, external_ref="R",
                                                            items=[LINES[1]] * 501))
    assert exc.field == ("items",) and exc.context == {"max_lines": 500, "given": 501}
    order, _ = await orders.import_order(hub, channel_code=code, external_ref="R", items=[LINES[1]] * 150)
    assert order.items_count == 150

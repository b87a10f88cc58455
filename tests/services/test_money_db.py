"""Money and quantities stored and read back on each database: exact decimals, half-up totals, no float drift."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from omniman_gql.models import OrderItem, StockLevel, utcnow
from omniman_gql.money import MAX_QUANTUM
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, commit, fulfillments, sessions
from tests.factories import committed_order, make_channel, open_with_items
from tests.services.support import raises, rows

pytestmark = pytest.mark.anyio


async def test_half_up_totals_survive_commit_on_the_database(hub: Hub) -> None:
    code = await make_channel(hub)
    order = await committed_order(hub, code, [("CHEESE", "2.5", 333), ("HAM", "0.125", 1000)])
    items = await rows(hub, OrderItem, OrderItem.order_id == order.id, order_by=OrderItem.id)
    assert [(i.qty, i.unit_price_q, i.line_total_q) for i in items] == [
        (Decimal("2.5"), 333, 833), (Decimal("0.125"), 1000, 125)]
    assert order.total_q == 958


async def test_tenths_add_up_exactly_through_merge_order_and_fulfillment(hub: Hub) -> None:
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("RICE", "0.1", 1000), ("RICE", "0.2", 1000)])
    first, second = (line["line_id"] for line in session.items)
    session = await sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                            ops=[{"op": "merge_lines", "from_line_id": second, "into_line_id": first}])
    assert session.items[0]["qty"] == "0.3" and session.items[0]["line_total_q"] == 300
    outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                          idempotency_key="K")
    (item,) = await rows(hub, OrderItem, OrderItem.order_id == outcome.result["order_id"])
    assert item.qty == Decimal("0.3") and str(item.qty) == "0.3"
    # 0.1 + 0.2 of a 0.3 line is exactly all of it (floats would say 0.30000000000000004 > 0.3).
    ref = outcome.result["order_ref"]
    for part in ("0.1", "0.2"):
        await fulfillments.create_fulfillment(hub, ref=ref, items=[{"line_id": first, "qty": part}])
    exc = await raises("over_fulfillment", fulfillments.create_fulfillment(
        hub, ref=ref, items=[{"line_id": first, "qty": "0.001"}]))
    assert exc.context["remaining"] == "0"


async def test_stock_levels_keep_exact_decimals_and_available_is_exact(hub: Hub) -> None:
    levels = await catalog.set_stock_levels(hub, [{"sku": "OIL", "qty": "0.3"}, {"sku": "BIG", "qty": "999999999.999"},
                                                  {"sku": "NONE", "qty": "0"}, {"sku": "TEN", "qty": "10.000"}])
    assert [(sku, str(on_hand), held) for sku, on_hand, held in levels] == [
        ("BIG", "999999999.999", 0), ("NONE", "0", 0), ("OIL", "0.3", 0), ("TEN", "10", 0)]
    expires = utcnow() + dt.timedelta(minutes=5)
    async with hub.transaction() as uow:
        for qty in ("0.1", "0.2"):
            await hub.registry.stock.create_hold(uow.db, sku="OIL", qty=Decimal(qty), reference="S", expires_at=expires)
        (availability,) = await hub.registry.stock.check_availability(uow.db, {"OIL": Decimal("0.001")})
    assert availability.available == Decimal(0) and not availability.ok
    (stored,) = await rows(hub, StockLevel, StockLevel.sku == "OIL")
    assert stored.on_hand == Decimal("0.3")
    assert [(sku, str(held)) for sku, _, held in await catalog.stock_levels(hub, ["OIL"])] == [("OIL", "0.3")]


async def test_stock_levels_refuse_floats_negatives_and_four_places(hub: Hub) -> None:
    for bad in (0.3, "-1", "0.0001"):
        exc = await raises("invalid_qty", catalog.set_stock_levels(hub, [{"sku": "A", "qty": "1"},
                                                                         {"sku": "B", "qty": bad}]))
        assert exc.field == ("input", 1, "qty")
    assert await rows(hub, StockLevel) == []


async def test_prices_must_be_integers_in_minor_units(hub: Hub) -> None:
    exc = await raises("invalid_price", catalog.set_prices(hub, [{"sku": "A", "unit_price_q": 5.5}]))
    assert exc.field == ("input", 0, "unit_price_q")
    prices = await catalog.set_prices(hub, [{"sku": "A", "unit_price_q": MAX_QUANTUM, "name": "Gold"}])
    assert [(p.sku, p.unit_price_q, p.name) for p in prices] == [("A", MAX_QUANTUM, "Gold")]
    assert [p.unit_price_q for p in await catalog.list_prices(hub, ["A"])] == [MAX_QUANTUM]

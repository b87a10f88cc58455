"""Invariants I1–I8 of concepts.md §12, one named test each, on every backend."""

from __future__ import annotations

import copy
import datetime as dt
import inspect
from decimal import Decimal

import pytest

from omniman_gql.domain.draft import Draft
from omniman_gql.models import Order, OrderEvent, OrderItem, Session, StockHold, StockLevel
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, commit, orders, sessions
from omniman_gql.services.common import get_channel, rules_of
from tests.factories import committed_order, make_channel, open_with_items
from tests.services.support import count, raises, rows

pytestmark = pytest.mark.anyio


async def test_i1_one_idempotency_key_gives_at_most_one_order(hub: Hub) -> None:
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("COFFEE", "1", 550)])
    outcomes = [await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                            idempotency_key="K-1") for _ in range(3)]
    assert [o.replayed for o in outcomes] == [False, True, True]
    assert {o.result["order_ref"] for o in outcomes} == {outcomes[0].result["order_ref"]}
    assert await count(hub, Order, Order.channel_code == code) == 1


async def test_i2_modifiers_do_no_io_and_validators_never_mutate(hub: Hub) -> None:
    code = await make_channel(hub)
    await catalog.set_prices(hub, [{"sku": "BREAD", "unit_price_q": 300}])
    session = await open_with_items(hub, code, [("BREAD", "2", None), ("COFFEE", "1.5", 333)])
    # No DB handle, clock or backend reaches them: each takes only the draft, and none is a coroutine.
    for ext in [*hub.registry.modifiers, *hub.registry.validators]:
        method = ext.apply if hasattr(ext, "apply") else ext.validate
        assert list(inspect.signature(method).parameters) == ["draft"], ext
        assert not inspect.iscoroutinefunction(method), ext
    async with hub.transaction(readonly=True) as uow:
        channel = await get_channel(uow.db, code)
    draft = Draft.of(rules_of(channel), items=session.items, data=session.data, pricing=session.pricing,
                     pricing_trace=session.pricing_trace)
    for stage in ("draft", "commit", "import"):
        for validator in hub.registry.validators_for(stage):
            before = copy.deepcopy((draft.items, draft.data, draft.pricing, draft.pricing_trace))
            validator.validate(draft)
            assert (draft.items, draft.data, draft.pricing, draft.pricing_trace) == before, validator
    # Modifiers are deterministic and idempotent: running them again on their own output changes nothing.
    before = copy.deepcopy((draft.items, draft.pricing, draft.pricing_trace))
    for modifier in hub.registry.modifiers:
        modifier.apply(draft)
    assert (draft.items, draft.pricing, draft.pricing_trace) == before


async def test_i3_locked_channel_rejects_every_op(hub: Hub) -> None:
    code = await make_channel(hub, edit_policy="locked")
    session, _ = await sessions.open_session(hub, channel_code=code)
    for op in ({"op": "add_line", "sku": "A", "qty": "1", "unit_price_q": 1},
               {"op": "set_data", "path": "notes", "value": "x"}):
        await raises("locked", sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                                       ops=[op]))
    (after,) = await rows(hub, Session, Session.session_key == session.session_key)
    assert after.rev == 0 and after.items == [] and after.data == {}


async def test_i4_external_pricing_is_never_repriced(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external")
    await catalog.set_prices(hub, [{"sku": "PIZZA", "unit_price_q": 4000}])
    session = await open_with_items(hub, code, [("PIZZA", "1", 3500)])
    await catalog.set_prices(hub, [{"sku": "PIZZA", "unit_price_q": 4500}])
    line = session.items[0]["line_id"]
    session = await sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                            ops=[{"op": "set_qty", "line_id": line, "qty": "2"}])
    assert session.items[0]["unit_price_q"] == 3500 and session.pricing["total_q"] == 7000
    assert session.pricing_trace == []
    outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                          idempotency_key="K")
    (item,) = await rows(hub, OrderItem, OrderItem.order_id == outcome.result["order_id"])
    assert (item.unit_price_q, item.line_total_q) == (3500, 7000)
    assert await count(hub, OrderEvent, OrderEvent.type == "price_override") == 0


async def test_i5_manual_price_override_leaves_an_order_event(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="internal")
    await catalog.set_prices(hub, [{"sku": "COFFEE", "unit_price_q": 550}, {"sku": "TEA", "unit_price_q": 400}])
    session, _ = await sessions.open_session(hub, channel_code=code)
    key = session.session_key
    session = await sessions.modify_session(hub, channel_code=code, session_key=key, actor="maria", ops=[
        {"op": "add_line", "sku": "COFFEE", "qty": "2", "unit_price_q": 500},  # override
        {"op": "add_line", "sku": "TEA", "qty": "1"},  # priced by the table
        {"op": "add_line", "sku": "TEA", "qty": "1", "unit_price_q": 400},  # same as the table: not an override
    ])
    assert [i["unit_price_q"] for i in session.items] == [500, 400, 400]
    outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                          idempotency_key="K", actor="joao")
    events = await rows(hub, OrderEvent, OrderEvent.order_id == outcome.result["order_id"], order_by=OrderEvent.id)
    assert [e.type for e in events] == ["created", "price_override"]
    assert events[1].payload == {"line_id": session.items[0]["line_id"], "sku": "COFFEE", "given_q": 500,
                                 "backend_q": 550, "actor": "maria"}
    assert events[1].actor == "joao"


async def test_an_override_priced_line_keeps_the_catalogue_name(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="internal")
    await catalog.set_prices(hub, [{"sku": "COFFEE", "unit_price_q": 550, "name": "Coffee"}])
    session, _ = await sessions.open_session(hub, channel_code=code)

    session = await sessions.modify_session(hub, channel_code=code, session_key=session.session_key, ops=[
        {"op": "add_line", "sku": "COFFEE", "qty": "1", "unit_price_q": 500},  # override
        {"op": "add_line", "sku": "COFFEE", "qty": "1"},  # priced by the table
        {"op": "add_line", "sku": "COFFEE", "qty": "1", "unit_price_q": 500, "name": "House coffee"},
    ])

    assert [(i["name"], i["unit_price_q"]) for i in session.items] == [
        ("Coffee", 500), ("Coffee", 550), ("House coffee", 500)]


async def test_i6_backend_operations_behind_handlers_are_idempotent(hub: Hub) -> None:
    await catalog.set_stock_levels(hub, [{"sku": "MILK", "qty": "10"}])
    stock, payment = hub.registry.stock, hub.registry.payment
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
    async with hub.transaction() as uow:
        hold = await stock.create_hold(uow.db, sku="MILK", qty=Decimal("2.5"), reference="S-1", expires_at=expires)
    for _ in range(2):  # a handler that runs twice must not take the stock twice
        async with hub.transaction() as uow:
            assert await stock.fulfill_hold(uow.db, hold.hold_id) is True
    (level,) = await rows(hub, StockLevel, StockLevel.sku == "MILK")
    assert level.on_hand == Decimal("7.5")
    async with hub.transaction() as uow:
        other = await stock.create_hold(uow.db, sku="MILK", qty=Decimal(1), reference="S-2", expires_at=expires)
    for expected in (True, False):
        async with hub.transaction() as uow:
            assert await stock.release_hold(uow.db, other.hold_id) is expected
    assert [h.status for h in await rows(hub, StockHold, order_by=StockHold.id)] == ["fulfilled", "released"]
    first = await payment.capture("pi_1", 1000, reference="ORD-1")
    second = await payment.capture("pi_1", 1000, reference="ORD-1")
    assert (first.status, first.already, second.status, second.already) == ("captured", False, "captured", True)


async def test_i7_order_snapshots_carry_v(hub: Hub) -> None:
    code = await make_channel(hub)
    order = await committed_order(hub, code, [("COFFEE", "2", 550)])
    imported, _ = await orders.import_order(hub, channel_code=code, external_ref="EXT-1",
                                            items=[{"sku": "TEA", "qty": "1", "unit_price_q": 400}])
    for snap in (order.snapshot, imported.snapshot):
        assert snap["_v"] == 1
        assert set(snap) == {"_v", "items", "data", "pricing", "rev", "channel_code", "pricing_policy"}
    assert order.snapshot["pricing"] == {"total_q": 1100, "items_count": 1}


async def test_i8_status_timestamps_first_transition_wins(hub: Hub) -> None:
    flow = {"transitions": {"new": ["confirmed"], "confirmed": ["processing"], "processing": ["confirmed", "ready"]}}
    code = await make_channel(hub, config={"order_flow": flow})
    order = await committed_order(hub, code)
    first = await orders.transition_order(hub, ref=order.ref, status="confirmed", actor="ana")
    await orders.transition_order(hub, ref=order.ref, status="processing")
    again = await orders.transition_order(hub, ref=order.ref, status="confirmed")
    (stored,) = await rows(hub, Order, Order.ref == order.ref)
    assert first.confirmed_at is not None
    assert again.confirmed_at == first.confirmed_at == stored.confirmed_at
    assert stored.processing_at is not None and stored.ready_at is None
    events = await rows(hub, OrderEvent, OrderEvent.order_id == order.id, OrderEvent.type == "status_changed",
                        order_by=OrderEvent.id)
    assert [e.payload for e in events] == [{"old_status": "new", "new_status": "confirmed"},
                                           {"old_status": "confirmed", "new_status": "processing"},
                                           {"old_status": "processing", "new_status": "confirmed"}]
    assert events[0].actor == "ana"

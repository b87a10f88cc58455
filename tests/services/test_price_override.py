"""Price overrides on internally priced channels follow `config.price_override` (§18): staff, anyone, never."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col

from omniman_gql.models import Order, OrderEvent, Session
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, commit, orders, sessions
from tests.factories import make_channel
from tests.services.support import count, raises, rows

pytestmark = pytest.mark.anyio

CHEAP = {"op": "add_line", "sku": "COFFEE", "qty": "1", "unit_price_q": 1}  # the price table says 550


async def priced_channel(hub: Hub, **config: Any) -> str:
    await catalog.set_prices(hub, [{"sku": "COFFEE", "unit_price_q": 550, "name": "Coffee"}])
    return await make_channel(hub, config=config or None)


async def add(hub: Hub, code: str, role: str, *ops: dict[str, Any], key: str | None = None) -> Any:
    if key is None:
        key = (await sessions.open_session(hub, channel_code=code))[0].session_key
    return await sessions.modify_session(hub, channel_code=code, session_key=key, ops=list(ops), actor=f"t-{role}",
                                         role=role)


async def test_error_price_override_not_allowed_for_a_client_by_default(hub: Hub) -> None:
    code = await priced_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code)
    exc = await raises("price_override_not_allowed", add(
        hub, code, "client", {"op": "add_line", "sku": "TEA", "qty": "1", "unit_price_q": 300}, CHEAP,
        key=session.session_key))
    assert exc.field == ("ops", 1, "add_line", "unit_price_q")
    assert {k: exc.context[k] for k in ("sku", "given_q", "backend_q", "policy")} == {
        "sku": "COFFEE", "given_q": 1, "backend_q": 550, "policy": "staff"}
    (stored,) = await rows(hub, Session, col(Session.id) == session.id)
    assert (stored.rev, stored.items) == (0, [])


@pytest.mark.parametrize("role", ["staff", "admin"])
async def test_staff_and_admin_may_override_by_default_and_the_order_records_it(hub: Hub, role: str) -> None:
    code = await priced_channel(hub)
    session = await add(hub, code, role, CHEAP)
    assert session.items[0]["unit_price_q"] == 1 and session.pricing["total_q"] == 1
    outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                          idempotency_key="K")
    (event,) = await rows(hub, OrderEvent, OrderEvent.order_id == outcome.result["order_id"],
                          OrderEvent.type == "price_override")
    assert (event.payload["given_q"], event.payload["backend_q"], event.payload["actor"]) == (1, 550, f"t-{role}")


async def test_a_client_may_restate_the_backend_price_or_price_what_it_does_not_know(hub: Hub) -> None:
    code = await priced_channel(hub)
    session = await add(hub, code, "client", {**CHEAP, "unit_price_q": 550},
                        {"op": "add_line", "sku": "UNLISTED", "qty": "1", "unit_price_q": 300})
    assert [line["unit_price_q"] for line in session.items] == [550, 300] and session.pricing_trace == []


async def test_a_client_may_touch_a_line_staff_priced_without_being_refused(hub: Hub) -> None:
    # Only a price sent now is weighed: a waiter's discount stays when the customer's app changes the quantity.
    code = await priced_channel(hub)
    session = await add(hub, code, "staff", CHEAP)
    line_id = session.items[0]["line_id"]
    session = await add(hub, code, "client", {"op": "set_qty", "line_id": line_id, "qty": "2"},
                        key=session.session_key)
    assert session.items[0]["unit_price_q"] == 1 and session.pricing["total_q"] == 2
    await raises("price_override_not_allowed", add(
        hub, code, "client", {"op": "replace_sku", "line_id": line_id, "sku": "COFFEE", "unit_price_q": 2},
        key=session.session_key))


async def test_anyone_lets_a_client_override(hub: Hub) -> None:
    code = await priced_channel(hub, price_override="anyone")
    session = await add(hub, code, "client", CHEAP)
    assert session.pricing["total_q"] == 1 and session.pricing_trace[0]["source"] == "override"


@pytest.mark.parametrize("role", ["client", "staff", "admin", "system"])
async def test_error_price_override_not_allowed_for_everyone_with_never(hub: Hub, role: str) -> None:
    code = await priced_channel(hub, price_override="never")
    exc = await raises("price_override_not_allowed", add(hub, code, role, CHEAP))
    assert exc.context["policy"] == "never" and "allows no other" in exc.message
    session = await add(hub, code, role, {**CHEAP, "unit_price_q": 550})  # the backend's price is no override
    assert session.pricing["total_q"] == 550


async def test_external_channels_take_every_price_whatever_the_policy(hub: Hub) -> None:
    await catalog.set_prices(hub, [{"sku": "COFFEE", "unit_price_q": 550}])
    code = await make_channel(hub, pricing_policy="external", config={"price_override": "never"})
    session = await add(hub, code, "client", CHEAP)
    assert session.pricing["total_q"] == 1


async def test_error_price_override_not_allowed_through_import_creates_nothing(hub: Hub) -> None:
    code = await priced_channel(hub)
    line = {"sku": "COFFEE", "qty": "1", "unit_price_q": 1}
    exc = await raises("price_override_not_allowed", orders.import_order(
        hub, channel_code=code, external_ref="E-1", items=[{**line, "unit_price_q": 550}, line], role="client"))
    assert exc.field == ("items", 1, "unit_price_q")
    assert await count(hub, Order, col(Order.channel_code) == code) == 0
    order, created = await orders.import_order(hub, channel_code=code, external_ref="E-1", items=[line], role="staff")
    assert created and order.total_q == 1

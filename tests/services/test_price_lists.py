"""Price lists (§16): price rows per channel and per list, resolved most specific first; `set_customer` validates
the customer and reprices the lines the hub priced, never client overrides, never externally priced channels."""

from __future__ import annotations

from typing import Any

import pytest

from omniman_gql.errors import ErrorCode
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, customers, sessions
from tests.factories import make_channel
from tests.services.support import raises

pytestmark = pytest.mark.anyio


async def shop(hub: Hub) -> tuple[str, str]:
    """Two internally priced channels and prices at every level: A has all four rows, B loses (channel, list), C
    also (any channel, list), D has only the price for everyone; E has a staff price at the counter only and a web
    shop price."""
    pos, web = await make_channel(hub), await make_channel(hub)
    rows: list[dict[str, Any]] = [{"sku": sku, "unit_price_q": 500} for sku in "ABCD"]
    rows += [{"sku": sku, "unit_price_q": 450, "channel_code": pos} for sku in "ABC"]
    rows += [{"sku": sku, "unit_price_q": 350, "price_list": "staff"} for sku in "AB"]
    rows += [{"sku": "A", "unit_price_q": 300, "channel_code": pos, "price_list": "staff"},
             {"sku": "E", "unit_price_q": 500}, {"sku": "E", "unit_price_q": 300, "channel_code": pos,
                                                  "price_list": "staff"},
             {"sku": "E", "unit_price_q": 600, "channel_code": web}]
    await catalog.set_prices(hub, rows)
    await customers.upsert_customer(hub, {"code": "ana", "name": "Ana", "price_list": "staff"})
    await customers.upsert_customer(hub, {"code": "bia", "name": "Bia"})
    return pos, web


async def cart(hub: Hub, channel: str, *ops: dict[str, Any], role: str = "system") -> Any:
    session, _ = await sessions.open_session(hub, channel_code=channel)
    return await sessions.modify_session(hub, channel_code=channel, session_key=session.session_key, ops=list(ops),
                                         role=role)


def add(sku: str, price: int | None = None) -> dict[str, Any]:
    return {"op": "add_line", "sku": sku, "qty": "1", **({"unit_price_q": price} if price is not None else {})}


def prices(session: Any) -> dict[str, int]:
    return {line["sku"]: line["unit_price_q"] for line in session.items}


async def test_each_level_shadows_the_next(hub: Hub) -> None:
    pos, _ = await shop(hub)

    staff = await cart(hub, pos, {"op": "set_customer", "code": "ana"}, *(add(sku) for sku in "ABCD"))
    plain = await cart(hub, pos, {"op": "set_customer", "code": "bia"}, *(add(sku) for sku in "ABCD"))
    nobody = await cart(hub, pos, *(add(sku) for sku in "ABCD"))

    assert prices(staff) == {"A": 300, "B": 350, "C": 450, "D": 500}
    assert prices(plain) == prices(nobody) == {"A": 450, "B": 450, "C": 450, "D": 500}


async def test_the_staff_list_applies_on_its_channel_and_another_channel_keeps_its_price(hub: Hub) -> None:
    pos, web = await shop(hub)

    at_counter = await cart(hub, pos, {"op": "set_customer", "code": "ana"}, add("E"))
    on_the_web = await cart(hub, web, {"op": "set_customer", "code": "ana"}, add("E"))
    anyone_on_the_web = await cart(hub, web, add("E"))

    assert (prices(at_counter), prices(on_the_web), prices(anyone_on_the_web)) == ({"E": 300}, {"E": 600},
                                                                                   {"E": 600})


async def test_naming_the_customer_reprices_hub_priced_lines_and_traces_it(hub: Hub) -> None:
    pos, _ = await shop(hub)
    before = await cart(hub, pos, add("A"), add("B"))

    after = await sessions.modify_session(hub, channel_code=pos, session_key=before.session_key,
                                          ops=[{"op": "set_customer", "code": "ana"}])
    cleared = await sessions.modify_session(hub, channel_code=pos, session_key=before.session_key,
                                            ops=[{"setCustomer": {"code": None}}])

    assert (prices(before), prices(after), prices(cleared)) == ({"A": 450, "B": 450}, {"A": 300, "B": 350},
                                                                {"A": 450, "B": 450})
    assert (after.rev, cleared.rev) == (before.rev + 1, before.rev + 2)
    assert after.pricing["total_q"] == 650
    assert [(t["sku"], t["source"], t["price_list"], t["unit_price_q"]) for t in after.pricing_trace] == [
        ("A", "price_list", "staff", 300), ("B", "price_list", "staff", 350)]
    assert cleared.pricing_trace == [] and "linked_customer" not in cleared.data
    assert after.data["linked_customer"] == {"code": "ana", "price_list": "staff"}


async def test_a_client_override_stays_when_the_customer_changes(hub: Hub) -> None:
    pos, _ = await shop(hub)
    session = await cart(hub, pos, add("A", 100), add("B"), role="staff")

    after = await sessions.modify_session(hub, channel_code=pos, session_key=session.session_key,
                                          ops=[{"op": "set_customer", "code": "ana"}])

    assert prices(after) == {"A": 100, "B": 350}
    override = next(t for t in after.pricing_trace if t["sku"] == "A")
    assert (override["source"], override["given_q"], override["backend_q"]) == ("override", 100, 300)


async def test_an_externally_priced_channel_is_never_repriced(hub: Hub) -> None:
    await shop(hub)
    platform = await make_channel(hub, pricing_policy="external")
    session = await cart(hub, platform, add("A", 999))

    after = await sessions.modify_session(hub, channel_code=platform, session_key=session.session_key,
                                          ops=[{"op": "set_customer", "code": "ana"}])

    assert prices(after) == {"A": 999} and after.pricing_trace == []
    assert after.data["linked_customer"]["code"] == "ana"


async def test_unknown_and_inactive_customers_are_refused_and_nothing_changes(hub: Hub) -> None:
    pos, _ = await shop(hub)
    await customers.upsert_customer(hub, {"code": "gone", "name": "Gone", "is_active": False})
    session = await cart(hub, pos, add("A"))

    missing = await raises(ErrorCode.CUSTOMER_NOT_FOUND, sessions.modify_session(
        hub, channel_code=pos, session_key=session.session_key, ops=[add("B"), {"op": "set_customer", "code": "x"}]))
    inactive = await raises(ErrorCode.CUSTOMER_INACTIVE, sessions.modify_session(
        hub, channel_code=pos, session_key=session.session_key, ops=[{"setCustomer": {"code": "gone"}}]))

    assert (missing.field, missing.context) == (("ops", 1, "set_customer", "code"), {"code": "x"})
    assert inactive.field == ("ops", 0, "set_customer", "code")
    stored = await sessions.modify_session(hub, channel_code=pos, session_key=session.session_key, ops=[])
    assert (stored.rev, prices(stored)) == (session.rev + 1, {"A": 450})


async def test_set_data_cannot_write_the_customer_link(hub: Hub) -> None:
    pos, _ = await shop(hub)
    session = await cart(hub, pos, add("A"))

    error = await raises(ErrorCode.INVALID_PATH, sessions.modify_session(
        hub, channel_code=pos, session_key=session.session_key,
        ops=[{"op": "set_data", "path": "linked_customer.price_list", "value": "staff"}]))
    assert error.field == ("ops", 0, "set_data", "path")
    await raises(ErrorCode.INVALID_PATH, sessions.open_session(hub, channel_code=pos,
                                                               data={"linked_customer": {"code": "ana"}}))


async def test_prices_list_and_filter_by_channel_and_list(hub: Hub) -> None:
    pos, _ = await shop(hub)

    staff_rows = await catalog.list_prices(hub, ["A"], price_list="staff")
    base_rows = await catalog.list_prices(hub, ["A"], channel_code="", price_list="")

    assert [(r.channel_code, r.price_list, r.unit_price_q) for r in staff_rows] == [("", "staff", 350),
                                                                                   (pos, "staff", 300)]
    assert [(r.channel_code, r.price_list, r.unit_price_q) for r in base_rows] == [("", "", 500)]
    error = await raises(ErrorCode.NOT_FOUND, catalog.set_prices(hub, [{"sku": "A", "unit_price_q": 1,
                                                                        "channel_code": "nowhere"}]))
    assert error.field == ("input", 0, "channel_code")
    error = await raises(ErrorCode.INVALID_INPUT, catalog.set_prices(hub, [{"sku": "A", "unit_price_q": 1,
                                                                            "price_list": "Not A List"}]))
    assert error.field == ("input", 0, "price_list")

"""One test per session/op error code of concepts.md §4–5: raised where the spec says, with field path and context."""

from __future__ import annotations

from typing import Any

import pytest

from omniman_gql.models import Session
from omniman_gql.runtime import Hub
from omniman_gql.services import commit, sessions
from tests.factories import make_channel, open_with_items
from tests.services.support import raises, rows

pytestmark = pytest.mark.anyio

OK_LINE = {"op": "add_line", "sku": "OK", "qty": "1", "unit_price_q": 100}


@pytest.fixture
async def cart(hub: Hub) -> tuple[str, str, list[str]]:
    """A channel and an open session at rev 1 holding lines COFFEE and TEA; returns (code, key, line ids)."""
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("COFFEE", "1", 550), ("TEA", "2", 400)])
    return code, session.session_key, [line["line_id"] for line in session.items]


async def modify(hub: Hub, cart: tuple[str, str, list[str]], *ops: Any, **kw: Any) -> Session:
    code, key, _ = cart
    return await sessions.modify_session(hub, channel_code=code, session_key=key, ops=list(ops), **kw)


async def assert_unchanged(hub: Hub, key: str) -> None:
    (row,) = await rows(hub, Session, Session.session_key == key)
    assert row.rev == 1 and len(row.items) == 2, "a failed modify must change nothing"


async def test_error_not_found_for_an_unknown_session_or_channel(hub: Hub, cart: Any) -> None:
    exc = await raises("not_found", sessions.modify_session(hub, channel_code=cart[0], session_key="SESS-NOPE",
                                                            ops=[OK_LINE]))
    assert exc.field == ("session_key",) and exc.context == {"channel_code": cart[0], "session_key": "SESS-NOPE"}
    exc = await raises("not_found", sessions.open_session(hub, channel_code="no-such-channel"))
    assert exc.field == ("channel_code",)


async def test_error_already_committed_when_modifying_a_committed_session(hub: Hub, cart: Any) -> None:
    await commit.commit_session(hub, channel_code=cart[0], session_key=cart[1], idempotency_key="K")
    exc = await raises("already_committed", modify(hub, cart, OK_LINE))
    assert exc.context == {"session_key": cart[1]}


async def test_error_already_abandoned_when_modifying_or_abandoning_again(hub: Hub, cart: Any) -> None:
    await sessions.abandon_session(hub, channel_code=cart[0], session_key=cart[1])
    await raises("already_abandoned", modify(hub, cart, OK_LINE))
    await raises("already_abandoned", sessions.abandon_session(hub, channel_code=cart[0], session_key=cart[1]))


async def test_error_locked_for_any_op_on_a_locked_channel(hub: Hub) -> None:
    code = await make_channel(hub, edit_policy="locked")
    session, _ = await sessions.open_session(hub, channel_code=code)
    exc = await raises("locked", sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                                         ops=[OK_LINE]))
    assert exc.field == ("ops",) and exc.context == {"channel_code": code}


async def test_error_stale_rev_when_expected_rev_differs(hub: Hub, cart: Any) -> None:
    exc = await raises("stale_rev", modify(hub, cart, OK_LINE, expected_rev=0))
    assert exc.field == ("expected_rev",) and exc.context == {"rev": 1, "expected_rev": 0}
    await assert_unchanged(hub, cart[1])
    assert (await modify(hub, cart, OK_LINE, expected_rev=1)).rev == 2


async def test_error_missing_sku_names_the_op(hub: Hub, cart: Any) -> None:
    exc = await raises("missing_sku", modify(hub, cart, OK_LINE, {"op": "add_line", "sku": "  ", "qty": "1"}))
    assert exc.field == ("ops", 1, "add_line", "sku")
    await assert_unchanged(hub, cart[1])


async def test_error_invalid_qty_for_zero_float_and_four_places(hub: Hub, cart: Any) -> None:
    for qty in ("0", 1.5, "1.2345", "-2", "many"):
        exc = await raises("invalid_qty", modify(hub, cart, OK_LINE, {**OK_LINE, "qty": qty}))
        assert exc.field == ("ops", 1, "add_line", "qty"), qty
    exc = await raises("invalid_qty", modify(hub, cart, {"setQty": {"lineId": cart[2][0], "qty": "0"}}))
    assert exc.field == ("ops", 0, "set_qty", "qty")
    await assert_unchanged(hub, cart[1])


async def test_error_missing_unit_price_q_on_external_channels_and_unpriced_skus(hub: Hub) -> None:
    external = await make_channel(hub, pricing_policy="external")
    session, _ = await sessions.open_session(hub, channel_code=external)
    exc = await raises("missing_unit_price_q", sessions.modify_session(
        hub, channel_code=external, session_key=session.session_key,
        ops=[OK_LINE, {"op": "add_line", "sku": "PIZZA", "qty": "1"}]))
    assert exc.field == ("ops", 1, "add_line", "unit_price_q")
    internal = await make_channel(hub)  # internal, but the price table does not know the SKU
    session, _ = await sessions.open_session(hub, channel_code=internal)
    exc = await raises("missing_unit_price_q", sessions.modify_session(
        hub, channel_code=internal, session_key=session.session_key,
        ops=[OK_LINE, {"op": "add_line", "sku": "UNKNOWN", "qty": "1"}]))
    assert exc.field == ("ops", 1, "add_line", "unit_price_q") and exc.context["sku"] == "UNKNOWN"


async def test_error_unknown_line_id_for_remove_set_qty_replace_and_merge(hub: Hub, cart: Any) -> None:
    for op, field in (({"op": "remove_line", "line_id": "L-NOPE"}, ("ops", 1, "remove_line", "line_id")),
                      ({"op": "set_qty", "line_id": "L-NOPE", "qty": "1"}, ("ops", 1, "set_qty", "line_id")),
                      ({"op": "replace_sku", "line_id": "L-NOPE", "sku": "X", "unit_price_q": 1},
                       ("ops", 1, "replace_sku", "line_id")),
                      ({"op": "merge_lines", "from_line_id": "L-NOPE", "into_line_id": cart[2][0]},
                       ("ops", 1, "merge_lines", "from_line_id"))):
        exc = await raises("unknown_line_id", modify(hub, cart, OK_LINE, op))
        assert exc.field == field and exc.context == {"line_id": "L-NOPE"}
    await assert_unchanged(hub, cart[1])


async def test_error_invalid_path_for_system_roots_dunder_unknown_and_deep_paths(hub: Hub, cart: Any) -> None:
    for path in ("checks.stock", "rev", "customer.__proto__", "whatever.x", "customer.a.b.c.d.e"):
        exc = await raises("invalid_path", modify(hub, cart, {"op": "set_data", "path": path, "value": 1}))
        assert exc.field == ("ops", 0, "set_data", "path") and "customer" in exc.context["allowed_roots"]
    exc = await raises("invalid_path", sessions.open_session(hub, channel_code=cart[0], data={"issues": []}))
    assert exc.field == ("data", "issues")


async def test_error_invalid_merge_when_merging_a_line_into_itself(hub: Hub, cart: Any) -> None:
    line = cart[2][0]
    exc = await raises("invalid_merge", modify(hub, cart, {"mergeLines": {"fromLineId": line, "intoLineId": line}}))
    assert exc.field == ("ops", 0, "merge_lines", "into_line_id")


async def test_error_sku_mismatch_when_merging_different_skus(hub: Hub, cart: Any) -> None:
    coffee, tea = cart[2]
    exc = await raises("sku_mismatch", modify(hub, cart, {"op": "merge_lines", "from_line_id": tea,
                                                          "into_line_id": coffee}))
    assert exc.field == ("ops", 0, "merge_lines", "from_line_id")
    assert exc.context == {"from_sku": "TEA", "into_sku": "COFFEE"}
    await assert_unchanged(hub, cart[1])


async def test_merge_lines_adds_quantities_and_drops_the_source(hub: Hub, cart: Any) -> None:
    coffee = cart[2][0]
    session = await modify(hub, cart, {"op": "add_line", "sku": "COFFEE", "qty": "0.5", "unit_price_q": 550})
    extra = session.items[-1]["line_id"]
    session = await modify(hub, cart, {"op": "merge_lines", "from_line_id": extra, "into_line_id": coffee})
    assert [(i["line_id"], i["qty"], i["line_total_q"]) for i in session.items] == [
        (coffee, "1.5", 825), (cart[2][1], "2", 800)]
    assert session.pricing == {"total_q": 1625, "items_count": 2}


async def test_error_unsupported_op_lists_the_supported_ones(hub: Hub, cart: Any) -> None:
    exc = await raises("unsupported_op", modify(hub, cart, OK_LINE, {"op": "discount_all", "pct": 10}))
    assert exc.field == ("ops", 1)
    assert exc.context == {"op": "discount_all", "supported": ["add_line", "remove_line", "set_qty", "replace_sku",
                                                               "set_data", "merge_lines", "set_customer"]}

"""Amounts fit a GraphQL `Int` (§18): a modify, import or commit that would exceed it is refused, nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import col

from omniman_gql.models import Order, Session
from omniman_gql.money import MAX_QUANTUM
from omniman_gql.runtime import Hub
from omniman_gql.services import commit, orders, sessions
from tests.factories import make_channel, open_with_items
from tests.services.support import codes, count, raises, rows

pytestmark = pytest.mark.anyio


async def test_error_amount_out_of_range_for_a_line_total_beyond_a_graphql_int(hub: Hub) -> None:
    # The case: 999,999,999 coffees at 5.50 are 549,999,999,450 minor units.
    code = await make_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code)
    exc = await raises("amount_out_of_range", sessions.modify_session(
        hub, channel_code=code, session_key=session.session_key,
        ops=[{"op": "add_line", "sku": "TEA", "qty": "1", "unit_price_q": 300},
             {"op": "add_line", "sku": "COFFEE", "qty": "999999999", "unit_price_q": 550}]))
    assert exc.field == ("ops", 1, "add_line")  # the op's path
    assert exc.context["amount_q"] == 549_999_999_450 and exc.context["max_q"] == MAX_QUANTUM == 2_147_483_647
    assert exc.context["sku"] == "COFFEE"
    (stored,) = await rows(hub, Session, col(Session.channel_code) == code)
    assert (stored.rev, stored.items, stored.pricing) == (0, [], session.pricing)  # nothing changed


async def test_a_total_beyond_the_range_points_at_the_op_that_pushed_it_over(hub: Hub) -> None:
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("GOLD", "1", MAX_QUANTUM)])
    line_id = session.items[0]["line_id"]
    exc = await raises("amount_out_of_range", sessions.modify_session(
        hub, channel_code=code, session_key=session.session_key,
        ops=[{"op": "set_qty", "line_id": line_id, "qty": "1"},
             {"op": "add_line", "sku": "PENNY", "qty": "1", "unit_price_q": 1}]))
    assert exc.field == ("ops", 1, "add_line") and exc.context["amount_q"] == MAX_QUANTUM + 1
    # Exactly the largest amount is fine: the bound is inclusive.
    assert session.pricing["total_q"] == MAX_QUANTUM


async def test_a_set_qty_that_overflows_a_line_is_refused_against_that_op(hub: Hub) -> None:
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("WINE", "1", 10_000)])
    exc = await raises("amount_out_of_range", sessions.modify_session(
        hub, channel_code=code, session_key=session.session_key,
        ops=[{"op": "set_qty", "line_id": session.items[0]["line_id"], "qty": "300000"}]))
    assert exc.field == ("ops", 0, "set_qty") and exc.context["amount_q"] == 3_000_000_000


async def test_a_commit_of_a_session_stored_with_an_overflowing_total_writes_no_order(hub: Hub) -> None:
    # Given a session priced before amounts were bounded (planted: no modify can store it any more)
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("COFFEE", "1", 550)])
    item = {**session.items[0], "qty": "999999999", "line_total_q": 549_999_999_450}
    async with hub.transaction() as uow:
        await uow.db.execute(update(Session).where(col(Session.id) == session.id).values(
            items=[item], pricing={"total_q": 549_999_999_450, "items_count": 1}))
    # When it is committed
    exc = await raises("amount_out_of_range", commit.commit_session(
        hub, channel_code=code, session_key=session.session_key, idempotency_key="K-1"))
    # Then nothing is sealed: no order, the session still open, and the key free for a retry
    assert exc.field == ("session_key",) and exc.context["line_id"] == item["line_id"]
    assert await count(hub, Order, col(Order.channel_code) == code) == 0
    (stored,) = await rows(hub, Session, col(Session.id) == session.id)
    assert stored.state == "open" and stored.committed_at is None


async def test_error_amount_out_of_range_through_import_creates_nothing(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external", edit_policy="locked")
    exc = await raises("amount_out_of_range", orders.import_order(
        hub, channel_code=code, external_ref="IFOOD-BIG",
        items=[{"sku": "TEA", "qty": "1", "unit_price_q": 300},
               {"sku": "COFFEE", "qty": "999999999", "unit_price_q": 550}]))
    assert exc.field == ("items", 1)
    assert await count(hub, Order, col(Order.channel_code) == code) == 0
    assert await count(hub, Session, col(Session.channel_code) == code) == 0


async def test_an_import_whose_lines_fit_but_whose_total_does_not_is_refused(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external")
    exc = await raises("amount_out_of_range", orders.import_order(
        hub, channel_code=code, external_ref="IFOOD-SUM",
        items=[{"sku": "GOLD", "qty": "1", "unit_price_q": MAX_QUANTUM}] * 2))
    assert exc.field == ("items", 1) and exc.context["amount_q"] == 2 * MAX_QUANTUM
    assert await count(hub, Order, col(Order.channel_code) == code) == 0


async def test_prices_beyond_the_range_are_refused_in_ops_and_imports(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external")
    session, _ = await sessions.open_session(hub, channel_code=code)
    exc = await raises("amount_out_of_range", sessions.modify_session(
        hub, channel_code=code, session_key=session.session_key,
        ops=[{"op": "add_line", "sku": "A", "qty": "1", "unit_price_q": MAX_QUANTUM + 1}]))
    assert exc.field == ("ops", 0, "add_line", "unit_price_q")
    exc = await raises("amount_out_of_range", orders.import_order(
        hub, channel_code=code, external_ref="E", items=[{"sku": "A", "qty": "1", "unit_price_q": 2**53}]))
    assert codes(exc) == ["amount_out_of_range"] and exc.field == ("items", 0, "unit_price_q")

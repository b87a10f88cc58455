"""A customer on an order (§16): the snapshot keeps who it was at commit, `customer.record_order` keeps the
customer's figures once per order (however often it runs), a cancelled order is taken back out, `orders` by
customer."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import update

from omniman_gql.models import Directive, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import commit, customers, directives, orders, reads, sessions
from tests.factories import make_channel
from tests.services.support import rows

pytestmark = pytest.mark.anyio
RECORD = "customer.record_order"


async def order_for(hub: Hub, channel: str, code: str | None, price: int = 1000) -> Any:
    session, _ = await sessions.open_session(hub, channel_code=channel)
    ops: list[dict[str, Any]] = [{"op": "add_line", "sku": "CAKE", "qty": "1", "unit_price_q": price}]
    if code:
        ops.append({"op": "set_customer", "code": code})
    await sessions.modify_session(hub, channel_code=channel, session_key=session.session_key, ops=ops)
    outcome = await commit.commit_session(hub, channel_code=channel, session_key=session.session_key,
                                          idempotency_key=uuid.uuid4().hex)
    return outcome.order


async def run_record_directives(hub: Hub, ref: str) -> list[Directive]:
    found = await rows(hub, Directive, Directive.order_ref == ref, Directive.topic == RECORD, order_by=Directive.id)
    for row in found:
        if row.status == "queued":
            assert (await directives.run_directive(hub, row.id or 0)).status == "done"
    return found


async def figures(hub: Hub, code: str) -> tuple[int, int, Any]:
    found = await customers.get_customer(hub, code)
    assert found is not None
    return found.orders_count, found.total_spent_q, found.last_order_at


async def test_the_snapshot_keeps_the_customer_as_at_commit_after_a_rename(hub: Hub) -> None:
    channel = await make_channel(hub)
    await customers.upsert_customer(hub, {"code": "ana", "name": "Ana", "phone": "11 98765-4321"})

    order = await order_for(hub, channel, "ana")
    await customers.upsert_customer(hub, {"code": "ana", "name": "Ana Maria", "phone": "11 90000-0000"})

    (stored,) = (await reads.orders_by_refs(hub, [order.ref])).values()
    assert stored.customer_code == "ana"
    assert stored.snapshot["customer"] == {"code": "ana", "name": "Ana", "phone": "11 98765-4321"}
    assert "linked_customer" not in stored.snapshot["data"]


async def test_figures_count_an_order_once_even_when_the_directive_runs_twice(hub: Hub) -> None:
    channel = await make_channel(hub)
    await customers.upsert_customer(hub, {"code": "ana", "name": "Ana"})
    first = await order_for(hub, channel, "ana", 1000)
    second = await order_for(hub, channel, "ana", 250)

    (directive,) = await run_record_directives(hub, first.ref)
    async with hub.transaction() as uow:  # as if the worker's acknowledgement was lost: the directive runs again
        await uow.db.execute(update(Directive).where(Directive.id == directive.id).values(
            status="queued", available_at=utcnow()))
    await run_record_directives(hub, first.ref)
    await run_record_directives(hub, second.ref)

    assert await figures(hub, "ana") == (2, 1250, second.created_at)
    assert directive.payload == {"order_ref": first.ref, "channel_code": channel,
                                 "session_key": first.session_key, "customer_code": "ana"}


async def test_a_cancelled_order_is_taken_back_out_of_the_figures(hub: Hub) -> None:
    channel = await make_channel(hub)
    await customers.upsert_customer(hub, {"code": "ana", "name": "Ana"})
    kept = await order_for(hub, channel, "ana", 1000)
    dropped = await order_for(hub, channel, "ana", 250)
    await run_record_directives(hub, kept.ref)
    await run_record_directives(hub, dropped.ref)

    await orders.transition_order(hub, ref=dropped.ref, status="cancelled")
    counted = await run_record_directives(hub, dropped.ref)

    assert len(counted) == 2  # the commit's and the cancellation's
    assert await figures(hub, "ana") == (1, 1000, kept.created_at)


async def test_a_cancellation_recorded_before_the_commit_directive_still_lands_right(hub: Hub) -> None:
    channel = await make_channel(hub)
    await customers.upsert_customer(hub, {"code": "ana", "name": "Ana"})
    order = await order_for(hub, channel, "ana")
    await orders.transition_order(hub, ref=order.ref, status="cancelled")

    found = await rows(hub, Directive, Directive.order_ref == order.ref, Directive.topic == RECORD,
                       order_by=Directive.id.desc())  # type: ignore[union-attr]
    assert len(found) == 2
    for row in found:  # the cancellation's first
        assert (await directives.run_directive(hub, row.id or 0)).status == "done"

    assert await figures(hub, "ana") == (0, 0, None)


async def test_several_orders_of_one_customer_recorded_at_once_all_count(hub: Hub) -> None:
    channel = await make_channel(hub)
    await customers.upsert_customer(hub, {"code": "ana", "name": "Ana"})
    made = [await order_for(hub, channel, "ana", 100 * (i + 1)) for i in range(6)]

    await asyncio.gather(*(run_record_directives(hub, order.ref) for order in made))

    assert (await figures(hub, "ana"))[:2] == (6, 2100)


async def test_orders_without_a_customer_queue_no_record_and_list_by_customer(hub: Hub) -> None:
    channel = await make_channel(hub)
    await customers.upsert_customer(hub, {"code": "ana", "name": "Ana"})
    anonymous = await order_for(hub, channel, None)
    hers = await order_for(hub, channel, "ana")

    assert await rows(hub, Directive, Directive.order_ref == anonymous.ref, Directive.topic == RECORD) == []
    page = await reads.order_page(hub, first=10, customer_code="ana")
    assert [row.ref for row in page.rows] == [hers.ref]

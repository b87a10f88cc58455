"""`customer.record_order` through dramatiq on real Redis: a commit's directive counts the order in its customer's
figures, a cancellation's takes it back out."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from omniman_gql.protocols import CustomerInfo
from omniman_gql.runtime import Hub
from omniman_gql.services import commit, customers, orders, sessions
from tests.factories import make_channel
from tests.tasks.support import eventually

pytestmark = pytest.mark.anyio


async def figures_are(hub: Hub, code: str, count: int, spent: int) -> CustomerInfo | None:
    found = await customers.get_customer(hub, code)
    return found if found is not None and (found.orders_count, found.total_spent_q) == (count, spent) else None


async def test_the_worker_counts_an_order_and_takes_a_cancelled_one_back_out(dispatching_hub: Hub,
                                                                             worker: Any) -> None:
    hub = dispatching_hub
    channel = await make_channel(hub)
    code = (await customers.upsert_customer(hub, {"name": "Ana"})).code
    session, _ = await sessions.open_session(hub, channel_code=channel)
    await sessions.modify_session(hub, channel_code=channel, session_key=session.session_key, ops=[
        {"addLine": {"sku": "CAKE", "qty": "2", "unitPriceQ": 700}}, {"setCustomer": {"code": code}}])
    outcome = await commit.commit_session(hub, channel_code=channel, session_key=session.session_key,
                                          idempotency_key=uuid.uuid4().hex)
    assert outcome.order is not None

    counted = await eventually(lambda: figures_are(hub, code, 1, 1400), what="the order counted")
    assert counted.last_order_at == outcome.order.created_at

    await orders.transition_order(hub, ref=outcome.order.ref, status="cancelled")
    await eventually(lambda: figures_are(hub, code, 0, 0), what="the cancelled order taken back out")

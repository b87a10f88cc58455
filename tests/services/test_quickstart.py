"""The quick start of the contract, as a service-level flow."""

from __future__ import annotations

import pytest

from omniman_gql.runtime import Hub
from omniman_gql.services import commit, sessions
from tests.factories import make_channel

pytestmark = pytest.mark.anyio


async def test_quick_start_commits_1950_and_replays_the_same_order(hub: Hub) -> None:
    code = await make_channel(hub, "pos")
    session, created = await sessions.open_session(hub, channel_code=code, session_key="DEMO-001")
    assert created and session.rev == 0

    session = await sessions.modify_session(hub, channel_code=code, session_key="DEMO-001", ops=[
        {"addLine": {"sku": "COFFEE", "qty": "2", "unitPriceQ": 550}},
        {"op": "add_line", "sku": "CROISSANT", "qty": "1", "unit_price_q": 850},
    ])
    assert session.rev == 1
    assert len(session.items) == 2
    assert session.pricing == {"total_q": 1950, "items_count": 2}

    first = await commit.commit_session(hub, channel_code=code, session_key="DEMO-001",
                                        idempotency_key="DEMO-CHECKOUT-001")
    again = await commit.commit_session(hub, channel_code=code, session_key="DEMO-001",
                                        idempotency_key="DEMO-CHECKOUT-001")
    assert first.replayed is False and first.result["status"] == "committed"
    assert first.result["total_q"] == 1950 and first.result["items_count"] == 2
    assert first.result["order_ref"].startswith("ORD-")
    assert again.replayed is True
    assert again.result == first.result

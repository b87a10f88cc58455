"""Real concurrent connections through the Hub's pool: the spec's races resolve by constraints and row locks.

On PostgreSQL these are parallel transactions; on SQLite, writers queue in-process and on BEGIN IMMEDIATE with a
busy timeout. Any exception other than the expected OmnimanError codes (e.g. "database is locked") fails the test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from omniman_gql.errors import OmnimanError
from omniman_gql.models import Channel, Fulfillment, FulfillmentItem, Order, OrderEvent, Session, utcnow
from omniman_gql.outages import Unavailable
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, channels, commit, fulfillments, orders, sessions
from omniman_gql.settings import Settings
from tests.factories import committed_order, make_channel, open_with_items
from tests.services.support import count, rows

pytestmark = pytest.mark.anyio


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    """The Hub with a pool of at most 25 connections (5 + 20 overflow): 25 transactions really run in parallel
    and the other callers queue for a connection, while staying well below PostgreSQL's max_connections (100),
    which parallel test runs share."""
    racing = Hub.create(Settings(database_url=database_url, redis_url=None, database_pool_size=5))
    try:
        yield racing
    finally:
        await racing.dispose()


async def race(calls: list[Awaitable[Any]]) -> tuple[list[Any], Counter[str]]:
    """Run every call at once; return the successes and a count of the error codes. Anything else propagates."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, OmnimanError)]
    if unexpected:
        raise unexpected[0]
    errors = Counter(r.code.value for r in results if isinstance(r, OmnimanError))
    return [r for r in results if not isinstance(r, BaseException)], errors


async def test_50_parallel_commits_with_one_key_make_exactly_one_order(hub: Hub) -> None:
    code = await make_channel(hub, config={"post_commit_directives": ["stock.commit"]})
    key = (await open_with_items(hub, code, [("COFFEE", "2", 550)])).session_key
    done, errors = await race([commit.commit_session(hub, channel_code=code, session_key=key,
                                                     idempotency_key="ONE-KEY") for _ in range(50)])
    assert set(errors) <= {"in_progress"}
    assert len(done) + errors["in_progress"] == 50
    fresh = [o for o in done if not o.replayed]
    assert len(fresh) == 1
    assert {o.result["order_ref"] for o in done} == {fresh[0].result["order_ref"]}
    assert await count(hub, Order) == 1
    assert await count(hub, OrderEvent, OrderEvent.type == "created") == 1


async def test_50_parallel_commits_with_different_keys_still_make_one_order(hub: Hub) -> None:
    code = await make_channel(hub)
    key = (await open_with_items(hub, code, [("COFFEE", "2", 550)])).session_key
    done, errors = await race([commit.commit_session(hub, channel_code=code, session_key=key,
                                                     idempotency_key=f"K-{i}") for i in range(50)])
    assert not errors
    assert Counter(o.result["status"] for o in done) == {"committed": 1, "already_committed": 49}
    assert len({o.result["order_ref"] for o in done}) == 1
    assert await count(hub, Order) == 1


async def test_50_parallel_modifies_with_the_same_expected_rev_apply_exactly_once(hub: Hub) -> None:
    code = await make_channel(hub)
    key = (await open_with_items(hub, code, [("COFFEE", "1", 550)])).session_key
    done, errors = await race([
        sessions.modify_session(hub, channel_code=code, session_key=key, expected_rev=1,
                                ops=[{"op": "add_line", "sku": f"SKU-{i}", "qty": "1", "unit_price_q": 100}])
        for i in range(50)])
    assert len(done) == 1 and errors == {"stale_rev": 49}
    (row,) = await rows(hub, Session, Session.session_key == key)
    assert row.rev == 2 and len(row.items) == 2 and row.pricing["total_q"] == 650


async def test_50_parallel_modifies_without_expected_rev_all_apply_in_sequence(hub: Hub) -> None:
    code = await make_channel(hub)
    key = (await sessions.open_session(hub, channel_code=code))[0].session_key
    done, errors = await race([
        sessions.modify_session(hub, channel_code=code, session_key=key,
                                ops=[{"op": "add_line", "sku": f"SKU-{i}", "qty": "1", "unit_price_q": 1}])
        for i in range(50)])
    assert not errors and sorted(s.rev for s in done) == list(range(1, 51))
    (row,) = await rows(hub, Session, Session.session_key == key)
    assert row.rev == 50 and len(row.items) == 50  # no lost update


async def test_20_parallel_get_or_open_with_one_handle_make_one_session(hub: Hub) -> None:
    code = await make_channel(hub)
    done, errors = await race([sessions.open_session(hub, channel_code=code, handle_type="table", handle_ref="5")
                               for _ in range(20)])
    assert not errors
    assert len({s.session_key for s, _ in done}) == 1
    assert sum(created for _, created in done) == 1
    assert await count(hub, Session, Session.channel_code == code) == 1


async def test_a_handle_opens_a_new_session_once_the_old_one_is_closed(hub: Hub) -> None:
    code = await make_channel(hub)
    first, _ = await sessions.open_session(hub, channel_code=code, handle_type="table", handle_ref="5")
    await sessions.abandon_session(hub, channel_code=code, session_key=first.session_key)
    done, _ = await race([sessions.open_session(hub, channel_code=code, handle_type="table", handle_ref="5")
                          for _ in range(10)])
    assert len({s.session_key for s, _ in done} - {first.session_key}) == 1
    assert await count(hub, Session, Session.state == "open") == 1


async def test_20_parallel_transitions_from_new_one_wins(hub: Hub) -> None:
    code = await make_channel(hub)
    order = await committed_order(hub, code)
    done, errors = await race([orders.transition_order(hub, ref=order.ref, status="confirmed", actor=f"a{i}")
                               for i in range(20)])
    assert len(done) == 1 and errors == {"invalid_transition": 19}
    assert await count(hub, OrderEvent, OrderEvent.type == "status_changed") == 1


async def test_10_parallel_imports_of_one_external_ref_make_one_order(hub: Hub) -> None:
    code = await make_channel(hub, pricing_policy="external", edit_policy="locked")
    done, errors = await race([
        orders.import_order(hub, channel_code=code, external_ref="IFOOD-77",
                            items=[{"sku": "BURGER", "qty": "1", "unit_price_q": 2990}])
        for _ in range(10)])
    assert not errors
    assert len({o.ref for o, _ in done}) == 1 and sum(created for _, created in done) == 1
    assert await count(hub, Order) == 1
    assert await count(hub, Session, Session.channel_code == code) == 1


async def test_parallel_fulfillments_never_over_fulfil_a_line(hub: Hub) -> None:
    code = await make_channel(hub)
    order = await committed_order(hub, code, [("FLOUR", "10", 100)])
    (line,) = order.snapshot["items"]
    done, errors = await race([
        fulfillments.create_fulfillment(hub, ref=order.ref, items=[{"line_id": line["line_id"], "qty": "3"}])
        for _ in range(8)])
    assert len(done) == 3 and errors == {"over_fulfillment": 5}
    shipped = await rows(hub, FulfillmentItem)
    assert sum((i.qty for i in shipped), Decimal(0)) == Decimal(9)
    assert await count(hub, Fulfillment) == 3


async def test_parallel_holds_never_oversell_a_sku(hub: Hub) -> None:
    await catalog.set_stock_levels(hub, [{"sku": "CAKE", "qty": "5"}])
    stock = hub.registry.stock

    async def hold_two(i: int) -> bool:
        async with hub.transaction() as uow:
            (availability,) = await stock.check_availability(uow.db, {"CAKE": Decimal(2)})
            if not availability.ok:
                return False
            await stock.create_hold(uow.db, sku="CAKE", qty=Decimal(2), reference=f"S-{i}",
                                    expires_at=utcnow() + dt.timedelta(minutes=15))
            return True

    done, _ = await race([hold_two(i) for i in range(10)])
    assert sum(done) == 2
    [(_, on_hand, held)] = await catalog.stock_levels(hub, ["CAKE"])
    assert (on_hand, held) == (Decimal(5), Decimal(4))


async def test_parallel_price_and_stock_upserts_of_new_skus_do_not_collide(hub: Hub) -> None:
    skus = [f"SKU-{i}" for i in range(20)]
    _, errors = await race([
        *[catalog.set_prices(hub, [{"sku": s, "unit_price_q": i} for s in (skus if i % 2 else skus[::-1])])
          for i in range(10)],
        *[catalog.set_stock_levels(hub, [{"sku": s, "qty": str(i)} for s in skus]) for i in range(10)],
        *[channels.upsert_channel(hub, code="new-channel", display_order=i) for i in range(10)],
    ])
    assert not errors
    assert len(await catalog.list_prices(hub, skus)) == 20 and len(await catalog.stock_levels(hub, skus)) == 20
    assert [c.code for c in await channels.list_channels(hub)] == ["new-channel"]


async def test_a_write_opened_inside_another_fails_within_the_busy_timeout(database_url: str, backend: str) -> None:
    # SQLite has one writer at a time: a nested writer must fail like busy_timeout (bounded), never hang.
    hub = Hub.create(Settings(database_url=database_url, redis_url=None, sqlite_busy_timeout_ms=300))
    try:
        await make_channel(hub, "outer")
        async with hub.transaction() as outer:
            await outer.db.execute(update(Channel).where(Channel.code == "outer").values(display_order=1))
            started = time.monotonic()
            if backend == "sqlite":
                with pytest.raises(Unavailable, match="database is busy") as caught:
                    await make_channel(hub, "inner")
                assert isinstance(caught.value.__cause__, OperationalError)
                assert "database is locked" in str(caught.value.__cause__)
                assert time.monotonic() - started < 5
            else:  # row locks: a writer of other rows goes ahead
                await make_channel(hub, "inner")
    finally:
        await hub.dispose()

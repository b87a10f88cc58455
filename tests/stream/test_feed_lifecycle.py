"""Feeds under pressure: slow consumers are closed with a reason, abrupt stops leave nothing behind, many
subscribers share one reader."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing

import anyio
import pytest
import redis

from omniman_gql.errors import OmnimanError
from omniman_gql.live.feed import followers, order_event_feed
from omniman_gql.live.inbox import SubscriptionClosed
from omniman_gql.live.session_feed import session_feed
from omniman_gql.live.shared import LiveFeeds
from omniman_gql.runtime import Hub
from omniman_gql.services import orders, sessions
from tests.factories import committed_order, make_channel, open_with_items
from tests.fixtures.stream import collecting, eventually, redis_subscriptions

pytestmark = pytest.mark.anyio


async def test_slow_feed_is_closed_with_a_clear_reason(live_hub: Hub, live: LiveFeeds) -> None:
    live.buffer = 3
    channel = await make_channel(live_hub)
    feed = order_event_feed(live, channel_codes=[channel])
    try:
        first = asyncio.ensure_future(anext(feed))
        await eventually(lambda: live.tails.get(channel) is not None and bool(live.tails.get(channel).followers))
        order = await committed_order(live_hub, channel)
        with anyio.fail_after(10):
            await first
        # Given a consumer that stops reading, when five more events happen...
        for n in range(5):
            await orders.add_order_event(live_hub, ref=order.ref, type="custom.tick", payload={"n": n})
        [follower] = live.tails.get(channel).followers  # type: ignore[union-attr]
        await eventually(lambda: follower.failure is not None, what="the slow follower to be closed")
        # ...then it is told why, and holds nothing meanwhile.
        with pytest.raises(SubscriptionClosed, match="fell more than 3 events behind") as info:
            with anyio.fail_after(10):
                await anext(feed)
        assert info.value.code == "subscriber_lagged"
    finally:
        await feed.aclose()
    assert live.tails.tails == {}


async def test_abrupt_stop_leaves_no_task_queue_or_redis_subscription(
    live_hub: Hub, live: LiveFeeds, redis_client: redis.Redis, namespace: str
) -> None:
    channel = await make_channel(live_hub)
    tasks_before = asyncio.all_tasks()
    async with collecting(order_event_feed(live, channel_codes=[channel])) as inbox, \
            collecting(order_event_feed(live)) as everything:
        await eventually(lambda: len(live.tails.tasks()) == 2, what="both tails running")
        await committed_order(live_hub, channel)
        await inbox.take(1)
        await everything.take(1)
        assert redis_subscriptions(redis_client, namespace)[0] == 1
    # The collectors were cancelled mid-wait, as a dropped connection would be.
    assert live.tails.tails == {}
    assert live.pubsub.local_subscriber_count() == 0
    await eventually(lambda: redis_subscriptions(redis_client, namespace)[0] == 0, what="Redis NUMSUB 0")
    pattern = live.pubsub.channel("order-events:*").encode()  # type: ignore[attr-defined]
    assert pattern not in live.pubsub._pubsub.patterns  # type: ignore[attr-defined]
    leftovers = [t for t in asyncio.all_tasks() - tasks_before if not t.done() and "omniman-tail" in t.get_name()]
    assert leftovers == []


async def test_500_feeds_all_receive_an_event_and_leave_nothing(
    live_hub: Hub, live: LiveFeeds, redis_client: redis.Redis, namespace: str
) -> None:
    channel = await make_channel(live_hub)
    received: dict[int, str] = {}

    async def subscriber(n: int) -> None:
        async with aclosing(order_event_feed(live, channel_codes=[channel])) as feed:
            async for item in feed:
                received[n] = item.order.ref
                break

    started = time.perf_counter()
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for n in range(500):
                tg.start_soon(subscriber, n)
            await eventually(lambda: followers(live, channel) == 500, timeout=30, what="500 feeds registered")
            sent = time.perf_counter()
            order = await committed_order(live_hub, channel)
    delivered = time.perf_counter()
    print(f"500 feeds: registered in {sent - started:.2f}s; all got the order {1000 * (delivered - sent):.0f} ms "
          "after the commit began")
    assert received == dict.fromkeys(range(500), order.ref)
    assert live.tails.tails == {} and live.pubsub.local_subscriber_count() == 0
    await eventually(lambda: redis_subscriptions(redis_client, namespace)[0] == 0, what="Redis NUMSUB 0")


async def test_session_feed_sends_now_then_each_change_until_commit(live_hub: Hub, live: LiveFeeds) -> None:
    channel = await make_channel(live_hub)
    session = await open_with_items(live_hub, channel, [("COFFEE", "1", 550)])
    async with collecting(session_feed(live, channel_code=channel, session_key=session.session_key)) as inbox:
        [now] = await inbox.take(1)
        assert (now.rev, now.state) == (1, "open")
        await sessions.modify_session(live_hub, channel_code=channel, session_key=session.session_key,
                                      ops=[{"op": "add_line", "sku": "TEA", "qty": "1", "unit_price_q": 300}])
        [modified] = await inbox.take(1)
        assert (modified.rev, len(modified.items)) == (2, 2)
        applied = await sessions.write_back_check(live_hub, channel_code=channel, session_key=session.session_key,
                                                  check_code="stock", expected_rev=2, result={"ok": True})
        assert applied
        [checked] = await inbox.take(1)
        assert (checked.rev, checked.data["checks"]["stock"]["result"]) == (2, {"ok": True})
        await sessions.abandon_session(live_hub, channel_code=channel, session_key=session.session_key)
        [abandoned] = await inbox.take(1)
        assert abandoned.state == "abandoned"
        # A final state never changes again: the feed ends and lets go of its subscription.
        await eventually(lambda: live.pubsub.local_subscriber_count() == 0, what="the session feed to end")
        assert inbox.error is None and len(inbox.items) == 4


async def test_session_feed_of_an_unknown_session_is_not_found(live_hub: Hub, live: LiveFeeds) -> None:
    channel = await make_channel(live_hub)
    with pytest.raises(OmnimanError) as info:
        await anext(session_feed(live, channel_code=channel, session_key="NOPE"))
    assert info.value.code == "not_found"
    assert live.pubsub.local_subscriber_count() == 0

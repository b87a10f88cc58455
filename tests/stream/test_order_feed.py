"""order_event_feed on a real database and Redis: replay after a cursor, then live, no gap and no duplicate."""

from __future__ import annotations

import anyio
import pytest

from omniman_gql.errors import OmnimanError
from omniman_gql.live.eventlog import Position
from omniman_gql.live.feed import OrderEventItem, order_event_feed
from omniman_gql.live.shared import LiveFeeds
from omniman_gql.runtime import Hub
from omniman_gql.services import orders
from omniman_gql.services.common import lock_order
from omniman_gql.services.events import record_event
from tests.factories import committed_order, make_channel
from tests.fixtures.stream import collecting

pytestmark = pytest.mark.anyio


def summary(items: list[OrderEventItem]) -> list[tuple[str, str]]:
    return [(item.order.ref, item.event.type) for item in items]


async def test_feed_from_now_skips_the_past_and_delivers_new_events(live: LiveFeeds, live_hub: Hub) -> None:
    channel = await make_channel(live_hub)
    await committed_order(live_hub, channel)  # before the subscription: not sent
    async with collecting(order_event_feed(live, channel_codes=[channel])) as inbox:
        await feed_ready(live, channel)
        order = await committed_order(live_hub, channel)
        [item] = await inbox.take(1)
        assert (item.order.ref, item.event.type, item.status) == (order.ref, "created", "new")
        await orders.transition_order(live_hub, ref=order.ref, status="confirmed")
        [changed] = await inbox.take(1)
        assert (changed.event.type, changed.status, changed.event.payload) == (
            "status_changed", "confirmed", {"old_status": "new", "new_status": "confirmed"})


async def feed_ready(live: LiveFeeds, key: str | None, watchers: int = 1) -> None:
    """Until the tail of `key` reads and has `watchers` feeds following it (they then miss nothing committed)."""
    with anyio.fail_after(10):
        while (tail := live.tails.get(key)) is None or not tail.ready.is_set():
            await anyio.sleep(0.01)
        while len(tail.followers) < watchers:
            await anyio.sleep(0.01)


async def test_feed_resumes_after_a_cursor_without_gap_or_duplicate(live: LiveFeeds, live_hub: Hub) -> None:
    channel = await make_channel(live_hub)
    other = await make_channel(live_hub)
    a = await committed_order(live_hub, channel)
    b = await committed_order(live_hub, channel)
    await committed_order(live_hub, other)
    async with collecting(order_event_feed(live, channel_codes=[channel], after=BEGINNING)) as inbox:
        seen = await inbox.take(2)
    assert summary(seen) == [(a.ref, "created"), (b.ref, "created")]

    # While nobody listens: three more events, one of them on another channel.
    await orders.transition_order(live_hub, ref=a.ref, status="confirmed")
    await committed_order(live_hub, other)
    c = await committed_order(live_hub, channel)

    async with collecting(order_event_feed(live, channel_codes=[channel], after=seen[0].cursor)) as inbox:
        replayed = await inbox.take(3)
        assert summary(replayed) == [(b.ref, "created"), (a.ref, "status_changed"), (c.ref, "created")]
        await orders.add_order_event(live_hub, ref=b.ref, type="custom.note", payload={"n": 1})
        [live_item] = await inbox.take(1)
        assert summary([live_item]) == [(b.ref, "custom.note")]
        assert live_item.status == "new"  # b's status right after the note

    async with collecting(order_event_feed(live, channel_codes=[channel], after=live_item.cursor)) as inbox:
        await feed_ready(live, channel)
        await orders.add_order_event(live_hub, ref=c.ref, type="custom.sentinel", payload={})
        assert summary(await inbox.take(1)) == [(c.ref, "custom.sentinel")]
        assert inbox.items == inbox.items[:1]  # nothing replayed before it


BEGINNING = Position(floor=0).encode()


async def test_feed_filters_by_channel_and_by_status_after_the_event(live: LiveFeeds, live_hub: Hub) -> None:
    channel = await make_channel(live_hub)
    other = await make_channel(live_hub)
    a = await committed_order(live_hub, channel)
    await committed_order(live_hub, other)
    await orders.transition_order(live_hub, ref=a.ref, status="confirmed")
    await orders.add_order_event(live_hub, ref=a.ref, type="custom.note", payload={})
    await orders.transition_order(live_hub, ref=a.ref, status="processing")
    await orders.add_order_event(live_hub, ref=a.ref, type="custom.late", payload={})
    feed = order_event_feed(live, channel_codes=[channel], statuses=["confirmed"], after=BEGINNING)
    async with collecting(feed) as inbox:
        got = await inbox.take(2)
        assert [(i.event.type, i.status) for i in got] == [
            ("status_changed", "confirmed"), ("custom.note", "confirmed")]
        b = await committed_order(live_hub, channel)
        await orders.transition_order(live_hub, ref=b.ref, status="confirmed")
        [live_item] = await inbox.take(1)  # b's `created` (status new) was filtered out
        assert (live_item.order.ref, live_item.event.type) == (b.ref, "status_changed")


async def test_feed_over_every_channel_sees_new_channels_too(live: LiveFeeds, live_hub: Hub) -> None:
    async with collecting(order_event_feed(live)) as inbox:
        await feed_ready(live, None)
        channel = await make_channel(live_hub)
        order = await committed_order(live_hub, channel)
        [item] = await inbox.take(1)
        assert (item.order.ref, item.order.channel_code) == (order.ref, channel)


async def test_feed_rejects_bad_input(live: LiveFeeds) -> None:
    cases = [({"after": "not-a-cursor"}, ("after",)), ({"channel_codes": []}, ("channel_codes",)),
             ({"statuses": ["x" * 500]}, ("statuses", 0))]
    for kwargs, field in cases:
        with pytest.raises(OmnimanError) as info:
            await anext(order_event_feed(live, **kwargs))  # type: ignore[arg-type]
        assert (info.value.code, info.value.field) == ("invalid_input", field)


async def test_feed_gets_events_committed_out_of_id_order_exactly_once(
    live: LiveFeeds, live_hub: Hub, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers, so ids always commit in order")
    channel = await make_channel(live_hub)
    x = await committed_order(live_hub, channel)
    y = await committed_order(live_hub, channel)
    async with collecting(order_event_feed(live, channel_codes=[channel])) as inbox:
        await feed_ready(live, channel)
        # Given two real concurrent transactions, the one holding the lower event id commits last.
        async with live_hub.transaction() as slow:
            order_x, _ = await lock_order(slow.db, x.ref)
            low = await record_event(slow, order_x, "custom.slow", {}, actor="test")
            async with live_hub.transaction() as fast:
                order_y, _ = await lock_order(fast.db, y.ref)
                high = await record_event(fast, order_y, "custom.fast", {}, actor="test")
            assert low < high  # record_event returns the new event's id
            [first] = await inbox.take(1)
            assert first.event.id == high
            resume_cursor = first.cursor  # a display that reconnects with it must still get the lower id
        [second] = await inbox.take(1)
        assert second.event.id == low
        await orders.add_order_event(live_hub, ref=y.ref, type="custom.sentinel", payload={})
        [third] = await inbox.take(1)
        assert third.event.type == "custom.sentinel"  # and nothing came twice in between
        # Both transactions are over, so the horizon has moved past them: the cursor is back to a bare floor.
        assert Position.decode(third.cursor) == Position(floor=int(third.event.id or 0))

    async with collecting(order_event_feed(live, channel_codes=[channel], after=resume_cursor)) as inbox:
        assert [i.event.type for i in await inbox.take(2)] == ["custom.slow", "custom.sentinel"]
    async with collecting(order_event_feed(live, channel_codes=[channel], after=second.cursor)) as inbox:
        assert [i.event.type for i in await inbox.take(1)] == ["custom.sentinel"]


async def test_feed_reads_each_event_once_per_process_for_all_subscribers(live: LiveFeeds, live_hub: Hub) -> None:
    channel = await make_channel(live_hub)
    async with collecting(order_event_feed(live, channel_codes=[channel])) as one, \
            collecting(order_event_feed(live, channel_codes=[channel])) as two:
        await feed_ready(live, channel, watchers=2)
        await committed_order(live_hub, channel)
        [a], [b] = await one.take(1), await two.take(1)
    assert a.order is b.order and a.event is b.event  # the tail read it once and shared the rows


async def test_feed_catches_up_a_long_backlog_page_by_page(live: LiveFeeds, live_hub: Hub) -> None:
    live.replay_page = 3  # a display that was off for a while: many pages to replay
    channel = await make_channel(live_hub)
    other = await make_channel(live_hub)
    order = await committed_order(live_hub, channel)
    noise = await committed_order(live_hub, other)
    for n in range(10):
        await orders.add_order_event(live_hub, ref=order.ref, type=f"custom.n{n}", payload={})
        await orders.add_order_event(live_hub, ref=noise.ref, type=f"custom.noise{n}", payload={})
    async with collecting(order_event_feed(live, channel_codes=[channel], after=BEGINNING)) as inbox:
        backlog = await inbox.take(11)
        assert [i.event.type for i in backlog] == ["created", *(f"custom.n{n}" for n in range(10))]
        ids = [int(i.event.id or 0) for i in backlog]
        assert ids == sorted(ids)
        assert all(len(Position.decode(i.cursor).skip) <= 1 for i in backlog)  # cursors stay small
        await orders.add_order_event(live_hub, ref=order.ref, type="custom.live", payload={})
        assert [i.event.type for i in await inbox.take(1)] == ["custom.live"]

"""Feeds sharing their tail's task: direct delivery while nothing is queued, in order through the subscriber's own
generator otherwise (declined events, unfinished sends, a replay), on a real database and Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from omniman_gql.live.feed import OrderEventItem, followers, order_event_feed
from omniman_gql.live.shared import LiveFeeds
from omniman_gql.runtime import Hub
from omniman_gql.services import orders
from schema.accel_strawberry.websockets import start_now
from tests.factories import committed_order, make_channel
from tests.fixtures.stream import collecting, eventually

pytestmark = pytest.mark.anyio


class Recorder:
    """A `deliver` that records what it is given; declines event types in `decline`, leaves `unfinished` ones to
    be finished by the subscriber (as a send on a full socket would be). `later`: every answer comes from a
    coroutine the tail awaits (as when the event's selection is executed for the first time)."""

    def __init__(self, decline: tuple[str, ...] = (), unfinished: tuple[str, ...] = (), later: bool = True) -> None:
        self.decline, self.unfinished, self.later = decline, unfinished, later
        self.direct: list[tuple[str, str]] = []
        self.finished: list[str] = []

    def __call__(self, item: OrderEventItem) -> Any:
        return self._answer_later(item) if self.later else self._answer(item)

    async def _answer_later(self, item: OrderEventItem) -> Any:
        return self._answer(item)

    def _answer(self, item: OrderEventItem) -> Any:
        if item.event.type in self.decline:
            return False
        self.direct.append((item.event.type, item.cursor))
        if item.event.type in self.unfinished:
            async def finish() -> None:
                await asyncio.sleep(0.01)
                self.finished.append(item.cursor)
            # A send begun. Answered at once it must not be a coroutine (that would be an answer still to come).
            return finish() if self.later else asyncio.ensure_future(finish())
        return True


@pytest.mark.parametrize("later", [True, False])
async def test_direct_while_in_step_then_in_order_through_the_generator(live: LiveFeeds, live_hub: Hub,
                                                                        later: bool) -> None:
    channel = await make_channel(live_hub)
    deliver = Recorder(decline=("custom.declined",), unfinished=("custom.slow",), later=later)
    async with collecting(order_event_feed(live, channel_codes=[channel], deliver=deliver)) as inbox:
        await eventually(lambda: followers(live, channel) == 1, what="the member joined")
        [member] = live.tails.get(channel).followers  # type: ignore[union-attr]
        order = await committed_order(live_hub, channel)
        await eventually(lambda: len(deliver.direct) == 1, what="a direct delivery")
        # A declined event comes through the generator; then the member is direct again.
        await orders.add_order_event(live_hub, ref=order.ref, type="custom.declined", payload={})
        assert [i.event.type for i in await inbox.take(1)] == ["custom.declined"]
        await eventually(lambda: member.direct, what="direct again")
        # A send that must wait is finished by the subscriber's own task, before anything after it.
        await orders.add_order_event(live_hub, ref=order.ref, type="custom.slow", payload={})
        await eventually(lambda: len(deliver.finished) == 1, what="the unfinished send finished by the subscriber")
        await eventually(lambda: member.direct, what="direct again")
        await orders.add_order_event(live_hub, ref=order.ref, type="custom.after", payload={})
        await eventually(lambda: len(deliver.direct) == 3, what="the next event, directly")
        assert [t for t, _ in deliver.direct] == ["created", "custom.slow", "custom.after"]
        assert deliver.finished == [deliver.direct[1][1]]
        assert live.tails.get(channel).delivered == 2  # type: ignore[union-attr]  # the unfinished one: handed over
    assert live.tails.tails == {}


async def test_cursors_match_the_per_subscriber_feed_and_resume_replays_first(live: LiveFeeds, live_hub: Hub) -> None:
    channel = await make_channel(live_hub)
    first = Recorder()
    async with collecting(order_event_feed(live, channel_codes=[channel], deliver=first)):
        await eventually(lambda: followers(live, channel) == 1, what="the member joined")
        order = await committed_order(live_hub, channel)
        await orders.transition_order(live_hub, ref=order.ref, status="confirmed")
        await eventually(lambda: len(first.direct) == 2, what="both events")
    (_, created_cursor), (_, confirmed_cursor) = first.direct
    # Resuming after `created` replays `status_changed` through the generator, then goes direct.
    second = Recorder()
    async with collecting(order_event_feed(live, channel_codes=[channel], after=created_cursor,
                                           deliver=second)) as inbox:
        [replayed] = await inbox.take(1)
        assert (replayed.event.type, replayed.cursor) == ("status_changed", confirmed_cursor)
        await eventually(lambda: followers(live, channel) == 1, what="the member joined")
        await orders.add_order_event(live_hub, ref=order.ref, type="custom.note", payload={})
        await eventually(lambda: len(second.direct) == 1, what="the live event, directly")
        assert second.direct[0][0] == "custom.note"


async def test_start_now_finishes_sends_that_need_no_wait_and_hands_back_the_rest() -> None:
    async def immediate() -> None:
        await asyncio.sleep(0)  # a checkpoint only

    assert start_now(immediate()) is True
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def blocked() -> str:
        return await gate

    unfinished = start_now(blocked())
    assert unfinished is not True
    gate.set_result("sent")
    assert await unfinished == "sent"  # type: ignore[misc]

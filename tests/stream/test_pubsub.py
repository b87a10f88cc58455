"""PubSub behaviour on both flavours: delivery, patterns, clean-up and fan-out to many; the one bounded buffer."""

from __future__ import annotations

import anyio
import pytest
import redis

from omniman_gql.live.inbox import Inbox, SubscriptionClosed
from omniman_gql.live.pubsub import Message, PubSub
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings
from tests.fixtures.stream import eventually, listening, redis_subscriptions

pytestmark = pytest.mark.anyio


async def test_pubsub_delivers_to_subscribers_of_the_topic_only(pubsub: PubSub) -> None:
    async with listening(pubsub, ["order-events:pos"]) as pos, listening(pubsub, ["order-events:web"]) as web:
        await pubsub.publish("order-events:pos", {"event_id": 1})
        with anyio.fail_after(5):
            assert await anext(pos) == Message("order-events:pos", {"event_id": 1})
        assert len(web) == 0


async def test_pubsub_pattern_receives_every_matching_topic(pubsub: PubSub) -> None:
    async with listening(pubsub, ["order-events:*"]) as everything:
        await pubsub.publish("order-events:pos", {"n": 1})
        await pubsub.publish("session:pos:S1", {"n": 2})
        await pubsub.publish("order-events:web", {"n": 3})
        with anyio.fail_after(5):
            got = [await anext(everything), await anext(everything)]
    assert [(m.topic, m.data["n"]) for m in got] == [("order-events:pos", 1), ("order-events:web", 3)]


async def test_inbox_closes_a_consumer_more_than_maxsize_events_behind_with_a_reason() -> None:
    slow, fast = Inbox(maxsize=3), Inbox(maxsize=100)
    for n in range(5):
        slow.put({"n": n}, 1)
        fast.put({"n": n}, 1)
    with anyio.fail_after(5):
        assert [(await fast.get())["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
    assert len(slow) == 0 and slow.size == 0  # its entries were freed when it overflowed
    assert not slow.put({"n": 5}, 1)  # closed: nothing more is kept
    with pytest.raises(SubscriptionClosed, match="fell more than 3 events behind") as info:
        await slow.get()
    assert info.value.code == "subscriber_lagged"


async def test_pubsub_listener_gets_every_message_and_stays_subscribed(pubsub: PubSub) -> None:
    async with listening(pubsub, ["t"]) as pokes:
        for n in range(4):
            await pubsub.publish("t", {"n": n})
        with anyio.fail_after(5):
            assert [(await anext(pokes)).data["n"] for _ in range(4)] == [0, 1, 2, 3]
        await pubsub.publish("t", {"n": 4})
        with anyio.fail_after(5):
            assert (await anext(pokes)).data["n"] == 4


async def test_pubsub_cancelled_subscriber_leaves_nothing_behind(
    pubsub: PubSub, pubsub_kind: str, request: pytest.FixtureRequest, namespace: str
) -> None:
    subscribed = anyio.Event()

    async def reader() -> None:
        async with listening(pubsub, ["order-events:pos", "order-events:*"]) as sub:
            subscribed.set()
            async for _ in sub:
                pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        with anyio.fail_after(5):
            await subscribed.wait()
        assert pubsub.local_subscriber_count() == 1
        if pubsub_kind == "redis":
            client: redis.Redis = request.getfixturevalue("redis_client")
            assert redis_subscriptions(client, namespace)[0] == 1
        tg.cancel_scope.cancel()  # an abrupt disconnect: the reader is cancelled mid-iteration

    assert pubsub.local_subscriber_count() == 0
    if pubsub_kind == "redis":
        await eventually(lambda: redis_subscriptions(client, namespace)[0] == 0, what="Redis NUMSUB back to 0")
        pattern = pubsub.channel("order-events:*")  # type: ignore[attr-defined]
        await eventually(lambda: pattern.encode() not in _patterns_of_client(pubsub), what="pattern released")


def _patterns_of_client(pubsub: PubSub) -> set[bytes]:
    inner = pubsub._pubsub  # type: ignore[attr-defined]
    return set(inner.patterns) if inner is not None else set()


async def test_pubsub_resubscribing_after_the_last_subscriber_left_works(pubsub: PubSub) -> None:
    for n in range(3):
        async with listening(pubsub, ["t"]) as sub:
            await pubsub.publish("t", {"n": n})
            with anyio.fail_after(5):
                assert (await anext(sub)).data == {"n": n}
    assert pubsub.local_subscriber_count() == 0


async def test_pubsub_fans_one_message_out_to_500_subscribers(
    pubsub: PubSub, pubsub_kind: str, request: pytest.FixtureRequest, namespace: str
) -> None:
    received: list[int] = []
    ready = 0

    async def subscriber(n: int) -> None:
        nonlocal ready
        async with listening(pubsub, ["order-events:pos"]) as sub:
            ready += 1
            message = await anext(sub)
            received.append(n if message.data == {"event_id": 7} else -1)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for n in range(500):
                tg.start_soon(subscriber, n)
            await eventually(lambda: ready == 500, what="500 subscribers")
            await pubsub.publish("order-events:pos", {"event_id": 7})
    assert sorted(received) == list(range(500))
    assert pubsub.local_subscriber_count() == 0
    if pubsub_kind == "redis":
        client: redis.Redis = request.getfixturevalue("redis_client")
        await eventually(lambda: redis_subscriptions(client, namespace)[0] == 0, what="no Redis subscriber left")


async def test_redis_pubsub_keeps_one_redis_subscription_per_channel(
    request: pytest.FixtureRequest, namespace: str
) -> None:
    from omniman_gql.live.redis_pubsub import RedisPubSub

    client: redis.Redis = request.getfixturevalue("redis_client")
    ps = RedisPubSub(request.getfixturevalue("redis_url"), namespace=namespace)
    try:
        async with listening(ps, ["a"]), listening(ps, ["a"]), listening(ps, ["a", "b"]):
            assert dict(client.pubsub_numsub(f"{namespace}:a", f"{namespace}:b")) == {
                f"{namespace}:a".encode(): 1, f"{namespace}:b".encode(): 1}
        await eventually(lambda: redis_subscriptions(client, namespace)[0] == 0)
    finally:
        await ps.aclose()


async def test_pubsub_publish_many_delivers_in_the_given_order(pubsub: PubSub) -> None:
    batch = [("order-events:pos", {"n": 1}), ("session:pos:S1", {"n": 2}), ("order-events:web", {"n": 3}),
             ("order-events:pos", {"n": 4})]
    async with listening(pubsub, ["order-events:*"]) as events, listening(pubsub, ["session:pos:S1"]) as session:
        await pubsub.publish_many(batch)
        await pubsub.publish("order-events:pos", {"n": 5})  # after the batch, as the next transaction's would be
        with anyio.fail_after(5):
            got = [await anext(events) for _ in range(4)]
            assert (await anext(session)).data == {"n": 2}
    assert [(m.topic, m.data["n"]) for m in got] == [
        ("order-events:pos", 1), ("order-events:web", 3), ("order-events:pos", 4), ("order-events:pos", 5)]


async def test_hub_announces_a_transactions_messages_in_order_after_commit(pubsub: PubSub, settings: Settings) -> None:
    hub = Hub.create(settings, publisher=pubsub)
    try:
        async with listening(pubsub, ["t:*"]) as sub:
            async with hub.transaction() as uow:
                for n in range(3):
                    uow.publish(f"t:{n % 2}", {"n": n})
                assert len(sub) == 0  # nothing before the commit
            with anyio.fail_after(5):
                assert [(await anext(sub)).data["n"] for _ in range(3)] == [0, 1, 2]
    finally:
        await hub.dispose()

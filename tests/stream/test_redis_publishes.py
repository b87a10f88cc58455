"""RedisPubSub's publishes (redis-py's client and pipeline): messages from many tasks arrive in each task's order,
and a publish after its connection was lost connects again."""

from __future__ import annotations

import anyio
import pytest
import redis

from omniman_gql.live.redis_pubsub import RedisPubSub
from tests.fixtures.stream import listening

pytestmark = pytest.mark.anyio


async def test_concurrent_publishes_arrive_in_each_publishers_order(redis_url: str, namespace: str) -> None:
    pubsub = RedisPubSub(redis_url, namespace=namespace)
    try:
        async with listening(pubsub, ["t"]) as inbox:
            async def publisher(name: str) -> None:
                for n in range(50):
                    if n % 2:
                        await pubsub.publish("t", {"who": name, "n": n})
                    else:
                        await pubsub.publish_many([("t", {"who": name, "n": n}), ("other", {"ignored": True})])

            async with anyio.create_task_group() as group:
                for name in "abcd":
                    group.start_soon(publisher, name)
            with anyio.fail_after(10):
                got = [(await anext(inbox)).data for _ in range(200)]
        for name in "abcd":
            assert [m["n"] for m in got if m["who"] == name] == list(range(50))
    finally:
        await pubsub.aclose()


async def test_a_lost_connection_fails_nothing_later(redis_url: str, namespace: str,
                                                     redis_client: redis.Redis) -> None:
    pubsub = RedisPubSub(redis_url, namespace=namespace)
    try:
        async with listening(pubsub, ["t"]) as inbox:
            await pubsub.publish("t", {"n": 1})
            await pubsub.publish_many([("t", {"n": 2}), ("t", {"n": 3})])
            # Every connection that has published: Redis drops them, as a restart or a network cut would.
            publishers = [c for c in redis_client.client_list() if c.get("cmd") in ("publish", "exec")
                          and c.get("name") == pubsub.client_name]
            assert publishers
            for connection in publishers:
                redis_client.client_kill_filter(_id=connection["id"])
            await pubsub.publish("t", {"n": 4})  # connects again
            await pubsub.publish_many([("t", {"n": 5}), ("t", {"n": 6})])
            with anyio.fail_after(5):
                assert [(await anext(inbox)).data["n"] for _ in range(6)] == [1, 2, 3, 4, 5, 6]
    finally:
        await pubsub.aclose()

"""RedisPubSub's own PUBLISH connection: messages from many tasks arrive in each task's order, a lost connection
fails only the commands waiting on it and the next publish connects again, and URLs it cannot serve keep redis-py."""

from __future__ import annotations

import anyio
import pytest
import redis

from omniman_gql.live.redis_pubsub import RedisPubSub, _Publishes

pytestmark = pytest.mark.anyio


async def test_concurrent_publishes_arrive_in_each_publishers_order(redis_url: str, namespace: str) -> None:
    pubsub = RedisPubSub(redis_url, namespace=namespace, default_buffer=1000)
    assert pubsub._publishes is not None  # the test environment's plain redis:// URL takes the lean path
    try:
        async with pubsub.subscribe(["t"]) as inbox:
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
    pubsub = RedisPubSub(redis_url, namespace=namespace, default_buffer=100)
    publishes = pubsub._publishes
    assert publishes is not None
    try:
        async with pubsub.subscribe(["t"]) as inbox:
            await pubsub.publish("t", {"n": 1})
            replies, writer = publishes._replies, publishes._writer
            assert replies is not None and writer is not None
            host, port = writer.get_extra_info("sockname")[:2]
            assert redis_client.client_kill(f"{host}:{port}")
            with anyio.fail_after(5):
                await replies  # the reply reader saw the connection end
            assert publishes._writer is None and not publishes._waiting
            await pubsub.publish("t", {"n": 2})  # connects again
            assert publishes._writer is not None and publishes._writer is not writer
            with anyio.fail_after(5):
                assert [(await anext(inbox)).data["n"] for _ in range(2)] == [1, 2]
    finally:
        await pubsub.aclose()
    assert publishes._writer is None


def test_urls_needing_more_than_host_and_port_keep_redis_py() -> None:
    assert (_Publishes.for_url("redis://127.0.0.1:6379/0").host, _Publishes.for_url("redis://h").port) \
        == ("127.0.0.1", 6379)
    for url in ("redis://:secret@h:6379/0", "redis://user:pw@h/0", "rediss://h:6380/0", "redis://h/0?ssl=true",
                "unix:///run/redis.sock"):
        assert _Publishes.for_url(url) is None, url

"""The live stream of one process: what its subscriptions share, and the part of the app's lifespan that runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..runtime import Hub
from .pubsub import InProcessPubSub, PubSub
from .redis_pubsub import RedisPubSub
from .shared import LiveFeeds
from .token_cache import TokenCache


@asynccontextmanager
async def live_stream(hub: Hub) -> AsyncIterator[dict[str, Any]]:
    """The live stream's part of an app lifespan: this process's pub/sub (Redis when `redis_url` is set) becomes
    the Hub's publisher and the feeds' source, and revocations are heard. Yields the lifespan state
    `{"live": LiveFeeds, "tokens": TokenCache}`."""
    settings = hub.settings
    pubsub = create_pubsub(settings)
    previous, hub.publisher = hub.publisher, pubsub
    live = LiveFeeds(hub, pubsub, buffer=settings.subscription_buffer, poll_s=settings.subscription_poll_s)
    tokens = TokenCache(hub, live.revocations, ttl_s=settings.token_cache_s)
    try:
        async with live.revocations.running():
            yield {"live": live, "tokens": tokens}
    finally:
        await live.aclose()
        hub.publisher = previous
        await pubsub.aclose()


def create_pubsub(settings: Any) -> PubSub:
    """Redis pub/sub when `redis_url` is set (every process sees every event), else in-process."""
    if settings.redis_url:
        return RedisPubSub(settings.redis_url, namespace=settings.broker_namespace)
    return InProcessPubSub()

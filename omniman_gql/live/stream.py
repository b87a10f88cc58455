"""The live stream of one process: what its subscriptions share, and the part of the app's lifespan that runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..runtime import Hub
from .pubsub import PubSub, create_pubsub
from .revocations import Revocations
from .tails import Tails
from .token_cache import TokenCache


class LiveFeeds:
    """What the subscriptions of one process share: the hub, the pub/sub, the order-event tails and the token
    revocations they hear."""

    def __init__(self, hub: Hub, pubsub: PubSub, *, buffer: int = 1000, replay_page: int = 200,
                 poll_s: float = 5.0, horizon_wait_s: float = 5.0) -> None:
        self.hub = hub
        self.pubsub = pubsub
        self.buffer = buffer  # events a subscriber may fall behind (the `Inbox` lag rule)
        self.replay_page = replay_page
        self.poll_s = poll_s
        self.tails = Tails(hub, pubsub, poll_s=poll_s, horizon_wait_s=horizon_wait_s)
        self.revocations = Revocations(hub, pubsub, recheck_s=hub.settings.token_recheck_s)
        self.attachments: dict[str, Any] = {}  # per-process helpers of the adapters (e.g. shared views per event)

    async def aclose(self) -> None:
        await self.tails.aclose()


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

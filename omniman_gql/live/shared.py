"""What the live subscriptions of one process share: the hub, the pub/sub, the order-event tails and the token
revocations they hear (`LiveFeeds`)."""

from __future__ import annotations

from typing import Any

from ..runtime import Hub
from .pubsub import PubSub
from .revocations import Revocations
from .tails import Tails


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

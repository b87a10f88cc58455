"""Live principals by token hash, per process: the token lookup of an HTTP request without a query, forgotten as
soon as a revocation is announced on the `tokens` topic and after `ttl_s` at the latest."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio

from ..protocols import EventPublisher
from .pubsub import PubSub, Subscription
from ..runtime import Hub
from ..services import auth

log = logging.getLogger(__name__)
TOKENS_TOPIC = "tokens"  # `revoke_token` publishes {"revoked": id} here after its commit
MAX_ENTRIES = 1024  # live tokens remembered per process; a deployment has far fewer in use at once
RETRY_S = (0.5, 5.0)  # first and longest wait before subscribing again after the pub/sub failed


class TokenCache:
    """Why revocation still takes effect at once (see docs/security.md):

    - Entries are served only while this process holds a subscription to `tokens` (confirmed by Redis before it
      counts). Announcements are applied before every lookup, not when a task gets round to it: once the message of
      a revocation has reached this process, the next request with the token is refused; a revocation this process
      commits is applied as it is published (the Hub's publisher is wrapped while the cache runs). Without the
      subscription every request asks the database, as without a cache.
    - A lookup that was reading the database while an announcement arrived is not remembered (a generation count):
      it may have read the row before the revocation committed.
    - An entry lives `ttl_s` at most (counted from before its read): that bounds a revocation whose message was
      lost (Redis restarting) or never sent (`omniman token revoke` without Redis).
    - Only live tokens are remembered, at most `max_entries` (the oldest goes first): unknown or revoked tokens are
      looked up every time, so guessing cannot fill the cache or push real tokens out of it for long.
    """

    def __init__(self, hub: Hub, pubsub: PubSub | None, *, ttl_s: float, max_entries: int = MAX_ENTRIES) -> None:
        self.hub = hub
        self.pubsub = pubsub
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[auth.Principal, float]] = {}
        self._generation = 0
        self._sub: Subscription | None = None
        self._stop: asyncio.Event | None = None

    @property
    def active(self) -> bool:
        """Whether lookups are being remembered (the `tokens` subscription is open)."""
        return self._sub is not None

    def __len__(self) -> int:
        return len(self._entries)

    async def authenticate(self, secret: str | None) -> auth.Principal | None:
        """`auth.authenticate`, from memory when this process may trust it."""
        if not auth.plausible(secret):
            return None
        token_hash = auth.hash_token(secret)  # type: ignore[arg-type]
        sub = self._sub
        if sub is None:
            return await auth.principal_by_hash(self.hub, token_hash)
        self._apply(sub)
        now = time.monotonic()
        entry = self._entries.get(token_hash)
        if entry is not None:
            if entry[1] > now:
                return entry[0]
            del self._entries[token_hash]
        generation = self._generation
        principal = await auth.principal_by_hash(self.hub, token_hash)
        if principal is not None and self._sub is sub:
            self._apply(sub)  # an announcement that came in during the read makes the row suspect
            if generation == self._generation:
                self._entries[token_hash] = (principal, now + self.ttl_s)
                if len(self._entries) > self.max_entries:
                    del self._entries[next(iter(self._entries))]
        return principal

    def _apply(self, sub: Subscription) -> None:
        """Forget the tokens announced as revoked (all of them when announcements were dropped or the subscription
        ended)."""
        if not len(sub) and not sub.lagged and sub.closed_reason is None:
            return
        self._generation += 1
        messages = sub.drain()
        lagged, sub.lagged = sub.lagged, False
        if lagged or sub.closed_reason is not None:
            self._entries.clear()
            if sub.closed_reason is not None and self._sub is sub:
                self._sub = None
            return
        for message in messages:
            self._forget(message.data)

    def announced(self, announcement: Mapping[str, Any]) -> None:
        """A revocation announced in this process (`{"revoked": token_id}`)."""
        self._generation += 1
        self._forget(announcement)

    def _forget(self, announcement: Mapping[str, Any]) -> None:
        token_id = announcement.get("revoked")
        if not isinstance(token_id, int):  # not understood: trust nothing remembered
            self._entries.clear()
            return
        for key in [k for k, (principal, _) in self._entries.items() if principal.token_id == token_id]:
            del self._entries[key]

    def _forget_all(self) -> None:
        self._generation += 1
        self._entries.clear()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TokenCache]:
        """Hold the `tokens` subscription while the app runs (retried when the pub/sub fails). The listener is asked
        to stop, never cancelled mid-(un)subscribe, which would upset the shared pub/sub connection."""
        if self.pubsub is None or self.ttl_s <= 0:
            yield self
            return
        self._stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._listen(self.pubsub, self._stop),
                                                      name="omniman-token-cache")
        previous, self.hub.publisher = self.hub.publisher, _Announcer(self.hub.publisher, self)
        try:
            yield self
        finally:
            self.hub.publisher = previous
            self._stop.set()
            with anyio.CancelScope(shield=True):
                await asyncio.wait({task}, timeout=10.0)
            if not task.done():
                task.cancel()
            self._sub = None
            self._forget_all()

    async def _listen(self, pubsub: PubSub, stop: asyncio.Event) -> None:
        delay = RETRY_S[0]
        while not stop.is_set():
            closed = False
            try:
                async with pubsub.subscribe([TOKENS_TOPIC], maxsize=64, overflow="drop") as sub:
                    self._forget_all()
                    self._sub = sub
                    delay = RETRY_S[0]
                    while not stop.is_set() and sub.closed_reason is None:
                        await _first_of(stop.wait(), sub.wait())
                        self._apply(sub)
                    closed = sub.closed_reason is not None  # the pub/sub is shutting down
            except Exception:
                log.warning("subscribing to revoked tokens failed; tokens are looked up on every request meanwhile",
                            exc_info=True)
            finally:
                self._sub = None
                self._forget_all()
            if closed:
                return
            with anyio.move_on_after(delay):
                await stop.wait()
            delay = min(delay * 2, RETRY_S[1])


class _Announcer:
    """The Hub's publisher while the cache runs: a revocation this process commits is forgotten here before it is
    published, so the next request is refused without waiting for the message to come back from Redis."""

    def __init__(self, inner: EventPublisher, cache: TokenCache) -> None:
        self.inner = inner
        self.cache = cache

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        if topic == TOKENS_TOPIC:
            self.cache.announced(message)
        await self.inner.publish(topic, message)

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        for topic, message in messages:
            if topic == TOKENS_TOPIC:
                self.cache.announced(message)
        publish_many = getattr(self.inner, "publish_many", None)
        if publish_many is not None:
            await publish_many(messages)
            return
        for topic, message in messages:
            await self.inner.publish(topic, message)


async def _first_of(*waits: object) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]  # type: ignore[call-overload]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()

"""Redis pub/sub: one Redis subscription connection per process, fanned out to this process's local subscribers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from .pubsub import Fanout, Listener, Message, OnMessage, is_pattern

log = logging.getLogger(__name__)

_GLOB_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\*?[]^"})


class RedisPubSub:
    """Channels are `<namespace>:<topic>` (`omniman:order-events:pos`). A Redis channel is subscribed when its first
    local subscriber arrives (the call returns once Redis has confirmed it, so nothing published afterwards can be
    missed) and unsubscribed when its last one leaves, so Redis never holds subscriptions nobody reads."""

    def __init__(self, url: str, *, namespace: str = "omniman", confirm_timeout_s: float = 5.0) -> None:
        self.prefix = f"{namespace}:"
        self.fanout = Fanout()
        self._confirm_timeout_s = confirm_timeout_s
        self.client_name = f"{namespace}-pubsub"  # how CLIENT LIST names this process's connections
        # One client (and its pool) per process, for publishes and the one subscription connection. A command on a
        # connection Redis dropped is sent again on a new one: a publish may then arrive twice, which subscribers
        # take as one more "something new".
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, client_name=self.client_name, retry=Retry(ExponentialWithJitterBackoff(), 3))
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._pending: dict[tuple[str, str], deque[asyncio.Future[None]]] = {}

    def channel(self, topic: str) -> str:
        """The Redis channel (or pattern, for `prefix*` topics) of a topic."""
        if is_pattern(topic):
            return (self.prefix + topic[:-1]).translate(_GLOB_SPECIAL) + "*"
        return self.prefix + topic

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        await self._client.publish(self.channel(topic), json.dumps(dict(message), default=str))

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """One round trip for a transaction's messages: a pipeline without MULTI on one connection, which Redis
        runs in order, so subscribers get them in the order given (as with one PUBLISH after another)."""
        if len(messages) == 1:  # a pipeline costs more Python than a lone command
            await self.publish(*messages[0])
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for topic, message in messages:
                pipe.publish(self.channel(topic), json.dumps(dict(message), default=str))
            await pipe.execute()

    @asynccontextmanager
    async def subscribe(self, topics: Sequence[str], on_message: OnMessage) -> AsyncIterator[None]:
        listener = Listener(topics, on_message)
        async with self._lock:
            first = self.fanout.add(listener)
            try:
                await self._change("subscribe", first)
            except BaseException:
                with anyio.CancelScope(shield=True), anyio.move_on_after(self._confirm_timeout_s):
                    await self._change_quietly("unsubscribe", self.fanout.remove(listener))
                raise
        try:
            yield
        finally:
            # Shielded: a cancelled subscriber (abrupt disconnect) must still give its Redis subscription back.
            # Leave the local fan-out at once; the Redis side is decided under the lock, where a newcomer to the
            # same topic may already have taken it over.
            last = self.fanout.remove(listener)
            with anyio.CancelScope(shield=True), anyio.move_on_after(self._confirm_timeout_s):
                async with self._lock:
                    await self._change_quietly("unsubscribe", [t for t in last if not self.fanout.has(t)])

    async def _change_quietly(self, action: str, topics: list[str]) -> None:
        try:
            await self._change(action, topics)
        except Exception:
            log.warning("Redis %s of %s failed; the connection will be reset", action, topics, exc_info=True)

    async def _change(self, action: str, topics: Iterable[str]) -> None:
        """(P)SUBSCRIBE or (P)UNSUBSCRIBE and wait for Redis to confirm each channel. Called with the lock held."""
        topics = list(topics)
        if not topics:
            return
        if self._pubsub is None:
            self._pubsub = self._client.pubsub()
        patterns = [self.channel(t) for t in topics if is_pattern(t)]
        channels = [self.channel(t) for t in topics if not is_pattern(t)]
        waits: list[asyncio.Future[None]] = []
        loop = asyncio.get_running_loop()
        for kind, names in ((f"p{action}", patterns), (action, channels)):
            for name in names:
                fut: asyncio.Future[None] = loop.create_future()
                self._pending.setdefault((kind, name), deque()).append(fut)
                waits.append(fut)
        if patterns:
            await getattr(self._pubsub, f"p{action}")(*patterns)
        if channels:
            await getattr(self._pubsub, action)(*channels)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_loop(), name="omniman-redis-pubsub")
        try:
            with anyio.fail_after(self._confirm_timeout_s):
                await asyncio.gather(*waits)
        finally:
            for (kind, name), futs in list(self._pending.items()):
                for fut in [f for f in futs if f in waits and not f.done()]:
                    futs.remove(fut)
                if not futs:
                    del self._pending[(kind, name)]

    async def _read_loop(self) -> None:
        backoff = 0.05
        while True:
            try:
                raw = await self._pubsub.get_message(timeout=None)
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except Exception:
                # redis-py reconnects and re-subscribes by itself; messages sent meanwhile are lost, which is fine:
                # subscribers poll the database now and then (the database is the record).
                log.warning("Redis pub/sub read failed; retrying", exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            if raw is not None:
                self._handle(raw)

    def _handle(self, raw: Mapping[str, Any]) -> None:
        kind = raw["type"]
        kind = kind.decode() if isinstance(kind, bytes) else kind
        name = raw["channel"].decode() if isinstance(raw["channel"], bytes) else raw["channel"]
        if kind in ("message", "pmessage"):
            if not name.startswith(self.prefix):
                return
            try:
                data = json.loads(raw["data"])
            except (TypeError, ValueError):
                log.warning("ignoring a malformed message on %s", name)
                return
            self.fanout.deliver(Message(name[len(self.prefix):], data))
            return
        futs = self._pending.get((kind, name))
        if futs:
            fut = futs.popleft()
            if not futs:
                del self._pending[(kind, name)]
            if not fut.done():
                fut.set_result(None)

    def local_subscriber_count(self) -> int:
        return self.fanout.count()

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with anyio.CancelScope(shield=True):
                try:
                    await self._reader
                except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the reader's end, whatever it was, is not news
                    pass
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        await self._client.aclose()

"""Live "something new" messages: the PubSub protocol, bounded local subscriptions and the in-process pub/sub."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

Overflow = Literal["close", "drop"]


@dataclass(frozen=True, slots=True)
class Message:
    """One published message: the topic it was sent to (e.g. `order-events:pos`) and its JSON-able body."""

    topic: str
    data: Mapping[str, Any]


class SubscriptionClosed(Exception):
    """The subscription ended for a reason the subscriber should hear (e.g. it fell too far behind)."""

    def __init__(self, reason: str, *, code: str = "subscription_closed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def is_pattern(topic: str) -> bool:
    """`order-events:*` subscribes to every topic starting with `order-events:`."""
    return topic.endswith("*")


class Subscription:
    """A bounded buffer of messages for one local subscriber, iterated with `async for`.

    `overflow="close"`: a subscriber more than `maxsize` messages behind is closed (its buffer freed) and the next
    read raises `SubscriptionClosed`; it catches up from the database with its cursor. `overflow="drop"`: new
    messages are dropped and `lagged` is set, for subscribers that only need to know "something new" happened.
    """

    def __init__(self, topics: Sequence[str], *, maxsize: int, overflow: Overflow = "close") -> None:
        self.topics = tuple(topics)
        self.maxsize = maxsize
        self.overflow: Overflow = overflow
        self.lagged = False
        self.closed_reason: str | None = None
        self._buffer: deque[Message] = deque()
        self._wakeup = asyncio.Event()

    def __len__(self) -> int:
        return len(self._buffer)

    def push(self, message: Message) -> None:
        if self.closed_reason is not None:
            return
        if len(self._buffer) >= self.maxsize:
            if self.overflow == "drop":
                self.lagged = True
            else:
                self.close(f"The subscriber fell more than {self.maxsize} messages behind and was closed; "
                           "subscribe again with the last cursor to catch up.")
            self._wakeup.set()
            return
        self._buffer.append(message)
        self._wakeup.set()

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._buffer.clear()
        self._wakeup.set()

    def drain(self) -> list[Message]:
        """Everything buffered now, without waiting."""
        items = list(self._buffer)
        self._buffer.clear()
        return items

    async def wait(self) -> None:
        """Until a message is buffered or the subscription is closed."""
        while not self._buffer and self.closed_reason is None:
            self._wakeup.clear()
            await self._wakeup.wait()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        await self.wait()
        if self._buffer:
            return self._buffer.popleft()
        raise SubscriptionClosed(self.closed_reason or "closed", code="subscriber_lagged")


class PubSub(Protocol):
    """Publish after commit; subscribe to topics (exact, or a `prefix*` pattern) as a context-managed iterator."""

    default_buffer: int

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None: ...

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Several messages at once (one transaction's), delivered in the given order."""
        ...

    def subscribe(
        self, topics: Sequence[str], *, maxsize: int | None = None, overflow: Overflow = "close"
    ) -> AbstractAsyncContextManager[Subscription]: ...

    def local_subscriber_count(self) -> int: ...

    async def aclose(self) -> None: ...


class Fanout:
    """Topic → local subscriptions; delivers one message to every matching subscriber of this process."""

    def __init__(self) -> None:
        self.exact: dict[str, set[Subscription]] = {}
        self.patterns: dict[str, set[Subscription]] = {}

    def _table(self, topic: str) -> tuple[dict[str, set[Subscription]], str]:
        return (self.patterns, topic[:-1]) if is_pattern(topic) else (self.exact, topic)

    def add(self, sub: Subscription) -> list[str]:
        """Register `sub`; returns the topics that had no local subscriber before (to subscribe upstream)."""
        first = []
        for topic in sub.topics:
            table, key = self._table(topic)
            subs = table.setdefault(key, set())
            if not subs:
                first.append(topic)
            subs.add(sub)
        return first

    def remove(self, sub: Subscription) -> list[str]:
        """Unregister `sub`; returns the topics that have no local subscriber left (to unsubscribe upstream)."""
        last = []
        for topic in sub.topics:
            table, key = self._table(topic)
            subs = table.get(key)
            if subs is None:
                continue
            subs.discard(sub)
            if not subs:
                del table[key]
                last.append(topic)
        return last

    def has(self, topic: str) -> bool:
        table, key = self._table(topic)
        return bool(table.get(key))

    def deliver(self, message: Message) -> int:
        receivers = set(self.exact.get(message.topic, ()))
        for prefix, subs in self.patterns.items():
            if message.topic.startswith(prefix):
                receivers |= subs
        for sub in receivers:
            sub.push(message)
        return len(receivers)

    def count(self) -> int:
        return len({sub for subs in (*self.exact.values(), *self.patterns.values()) for sub in subs})

    def close_all(self, reason: str) -> None:
        for subs in (*self.exact.values(), *self.patterns.values()):
            for sub in subs:
                sub.close(reason)


class InProcessPubSub:
    """The embedded default: messages go straight to this process's subscribers."""

    def __init__(self, *, default_buffer: int = 1000) -> None:
        self.default_buffer = default_buffer
        self.fanout = Fanout()

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        self.fanout.deliver(Message(topic, dict(message)))

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        for topic, message in messages:
            self.fanout.deliver(Message(topic, dict(message)))

    @asynccontextmanager
    async def subscribe(
        self, topics: Sequence[str], *, maxsize: int | None = None, overflow: Overflow = "close"
    ) -> AsyncIterator[Subscription]:
        sub = Subscription(topics, maxsize=maxsize or self.default_buffer, overflow=overflow)
        self.fanout.add(sub)
        try:
            yield sub
        finally:
            self.fanout.remove(sub)

    def local_subscriber_count(self) -> int:
        return self.fanout.count()

    async def aclose(self) -> None:
        self.fanout.close_all("The server is shutting down.")


def create_pubsub(settings: Any) -> PubSub:
    """Redis pub/sub when `redis_url` is set (every process sees every event), else in-process."""
    buffer = int(getattr(settings, "subscription_buffer", 1000))
    if settings.redis_url:
        from .redis_pubsub import RedisPubSub

        return RedisPubSub(settings.redis_url, namespace=settings.broker_namespace, default_buffer=buffer)
    return InProcessPubSub(default_buffer=buffer)

"""Live "something new" messages: the PubSub protocol, topic → listener fan-out, and the in-process pub/sub.

A subscriber gives a callback, called with each message as it arrives (in the pub/sub's own task, so it must be quick
and must not block): nothing is buffered here. Whoever needs to queue messages does so itself, bounded (the order
feeds' `Inbox`); most subscribers only need to know that something new happened and re-read the database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    """One published message: the topic it was sent to (e.g. `order-events:pos`) and its JSON-able body."""

    topic: str
    data: Mapping[str, Any]


OnMessage = Callable[[Message], None]


def is_pattern(topic: str) -> bool:
    """`order-events:*` subscribes to every topic starting with `order-events:`."""
    return topic.endswith("*")


class PubSub(Protocol):
    """Publish after commit; subscribe a callback to topics (exact, or a `prefix*` pattern) while a context lasts."""

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None: ...

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Several messages at once (one transaction's), delivered in the given order."""
        ...

    def subscribe(self, topics: Sequence[str], on_message: OnMessage) -> AbstractAsyncContextManager[None]:
        """Call `on_message` with each message of `topics` from when the context is entered (every message
        published after that reaches it) until it is left."""
        ...

    def local_subscriber_count(self) -> int: ...

    async def aclose(self) -> None: ...


class Listener:
    """One local subscription: its topics and its callback."""

    __slots__ = ("on_message", "topics")

    def __init__(self, topics: Sequence[str], on_message: OnMessage) -> None:
        self.topics = tuple(topics)
        self.on_message = on_message


class Fanout:
    """Topic → local listeners; delivers one message to every matching listener of this process."""

    def __init__(self) -> None:
        self.exact: dict[str, set[Listener]] = {}
        self.patterns: dict[str, set[Listener]] = {}

    def _table(self, topic: str) -> tuple[dict[str, set[Listener]], str]:
        return (self.patterns, topic[:-1]) if is_pattern(topic) else (self.exact, topic)

    def add(self, listener: Listener) -> list[str]:
        """Register `listener`; returns the topics that had no local listener before (to subscribe upstream)."""
        first = []
        for topic in listener.topics:
            table, key = self._table(topic)
            listeners = table.setdefault(key, set())
            if not listeners:
                first.append(topic)
            listeners.add(listener)
        return first

    def remove(self, listener: Listener) -> list[str]:
        """Unregister `listener`; returns the topics that have no local listener left (to unsubscribe upstream)."""
        last = []
        for topic in listener.topics:
            table, key = self._table(topic)
            listeners = table.get(key)
            if listeners is None:
                continue
            listeners.discard(listener)
            if not listeners:
                del table[key]
                last.append(topic)
        return last

    def has(self, topic: str) -> bool:
        table, key = self._table(topic)
        return bool(table.get(key))

    def deliver(self, message: Message) -> int:
        receivers = set(self.exact.get(message.topic, ()))
        for prefix, listeners in self.patterns.items():
            if message.topic.startswith(prefix):
                receivers |= listeners
        for listener in receivers:
            try:
                listener.on_message(message)
            except Exception:  # one faulty listener must not keep the message from the others
                log.exception("a listener of %s failed", message.topic)
        return len(receivers)

    def count(self) -> int:
        return len({lst for listeners in (*self.exact.values(), *self.patterns.values()) for lst in listeners})


class InProcessPubSub:
    """The embedded default: messages go straight to this process's listeners."""

    def __init__(self) -> None:
        self.fanout = Fanout()

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        self.fanout.deliver(Message(topic, dict(message)))

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        for topic, message in messages:
            self.fanout.deliver(Message(topic, dict(message)))

    @asynccontextmanager
    async def subscribe(self, topics: Sequence[str], on_message: OnMessage) -> AsyncIterator[None]:
        listener = Listener(topics, on_message)
        self.fanout.add(listener)
        try:
            yield
        finally:
            self.fanout.remove(listener)

    def local_subscriber_count(self) -> int:
        return self.fanout.count()

    async def aclose(self) -> None:
        return None

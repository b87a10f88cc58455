"""The live stream's one bounded buffer (`Inbox`) and its one lag rule.

A consumer more than `maxsize` events behind is closed with `SubscriptionClosed` (code `subscriber_lagged`) and its
entries are freed; it resumes with its last cursor.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class SubscriptionClosed(Exception):
    """The subscription ended for a reason the subscriber should hear (e.g. it fell too far behind)."""

    def __init__(self, reason: str, *, code: str = "subscription_closed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def lagged(maxsize: int) -> SubscriptionClosed:
    return SubscriptionClosed(
        f"The subscriber fell more than {maxsize} events behind and was closed; subscribe again with `after` set to "
        "the last cursor it received to catch up.", code="subscriber_lagged")


class Inbox:
    """Entries waiting for one consumer, each counted as some number of events against `maxsize`.

    Made for many idle consumers: nothing is allocated while it is empty (an empty deque or an asyncio.Event costs
    more than the rest of a kitchen display's subscription state), and the wake-up is a bare future.
    """

    __slots__ = ("_entries", "_waiter", "failure", "maxsize", "size")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.size = 0  # events held, against `maxsize`
        self.failure: BaseException | None = None
        self._entries: deque[tuple[int, Any]] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._entries) if self._entries else 0

    def put(self, entry: Any, events: int = 0) -> bool:
        """Queue `entry` (worth `events` events); False when the inbox is closed, or closes now because the
        consumer would be more than `maxsize` events behind."""
        if self.failure is not None:
            return False
        if self.size + events > self.maxsize:
            self.fail(lagged(self.maxsize))
            return False
        if self._entries is None:
            self._entries = deque()
        self._entries.append((events, entry))
        self.size += events
        self._wake()
        return True

    def fail(self, error: BaseException) -> None:
        """Close the inbox: its entries are dropped and the consumer's next `get` raises `error` (the first one)."""
        if self.failure is None:
            self.failure = error
            self._entries = None
            self.size = 0
        self._wake()

    async def get(self) -> Any:
        """The oldest entry, waiting for one; raises the failure once the inbox is closed."""
        while not self._entries:
            if self.failure is not None:
                raise self.failure
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        events, entry = self._entries.popleft()
        self.size -= events
        if not self._entries:
            self._entries = None  # let the deque go while the consumer is idle
        return entry

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

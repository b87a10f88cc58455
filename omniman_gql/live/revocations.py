"""Token revocations as this process hears them: the one listener on the `tokens` topic.

It tells the HTTP token cache and closes the open websockets of a revoked token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio

from ..outages import logged_outage
from ..protocols import EventPublisher
from ..runtime import Hub
from ..services import auth
from .pubsub import Message, PubSub

log = logging.getLogger(__name__)
TOKENS_TOPIC = "tokens"  # `revoke_token` publishes {"revoked": id} here after its commit
RETRY_S = (0.5, 5.0)  # first and longest wait before subscribing again after the pub/sub failed

Closer = Callable[[], Awaitable[None]]
# Told each revoked token id as it is heard, or None: announcements may have been missed, trust nothing remembered.
OnRevoked = Callable[[int | None], None]


class Revocations:
    """Why a revoked token stops working at once, everywhere (see docs/security.md):

    - One subscription to `tokens` per process (through Redis: every process hears every revocation). `heard` is
      True only while it is held; whoever remembers tokens (the HTTP cache) trusts its memory only then.
    - A revocation this process commits is applied as it is published (the Hub's publisher is wrapped while this
      runs), before the message comes back from Redis.
    - Websockets of a revoked token are closed as the announcement arrives, and the tokens of open websockets are
      also checked in the database every `recheck_s` (a revocation nobody announced: a lost message, or
      `omniman token revoke` without Redis), and at once after announcements may have been missed.
    """

    def __init__(self, hub: Hub, pubsub: PubSub, *, recheck_s: float) -> None:
        self.hub = hub
        self.pubsub = pubsub
        self.recheck_s = recheck_s
        self.heard = False
        self._listeners: list[OnRevoked] = []
        self._closers: dict[int, set[Closer]] = {}
        self._wake = asyncio.Event()  # wakes the recheck loop: a first socket to watch, or something missed
        self._missed = False  # announcements may have been missed: check the watched tokens now
        self._tasks: set[asyncio.Task[None]] = set()

    def listen(self, on_revoked: OnRevoked) -> None:
        """Call `on_revoked` with every revocation heard from now on (None: some may have been missed)."""
        self._listeners.append(on_revoked)

    def watch(self, token_id: int, closer: Closer) -> Callable[[], None]:
        """Call `closer` (once) when `token_id` is revoked; returns the function that stops watching."""
        if not self._closers:
            self._wake.set()
        self._closers.setdefault(token_id, set()).add(closer)

        def unwatch() -> None:
            closers = self._closers.get(token_id)
            if closers is not None:
                closers.discard(closer)
                if not closers:
                    del self._closers[token_id]

        return unwatch

    def watched(self) -> int:
        return sum(len(closers) for closers in self._closers.values())

    def revoked(self, token_id: int | None) -> None:
        """Apply a revocation (None: some may have been missed): tell the listeners, close the token's sockets."""
        for on_revoked in self._listeners:
            on_revoked(token_id)
        if token_id is None:
            self._missed = True
            self._wake.set()
            return
        closers = self._closers.pop(token_id, None)
        if closers:
            self._spawn(_close_all(closers))

    def _heard(self, message: Message) -> None:
        token_id = message.data.get("revoked")
        self.revoked(token_id if isinstance(token_id, int) else None)  # not understood: trust nothing

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Revocations]:
        """Listen (retrying when the pub/sub fails) and recheck open websockets' tokens while the app runs."""
        stop = asyncio.Event()
        self._spawn(self._listen(stop))
        self._spawn(self._recheck_loop(stop))
        previous, self.hub.publisher = self.hub.publisher, _Announcer(self.hub.publisher, self)
        try:
            yield self
        finally:
            self.hub.publisher = previous
            stop.set()
            self._wake.set()
            # Asked to stop, never cancelled mid-(un)subscribe, which would upset the shared pub/sub connection.
            with anyio.CancelScope(shield=True):
                if self._tasks:
                    await asyncio.wait(set(self._tasks), timeout=10.0)
            for task in list(self._tasks):
                task.cancel()

    async def _listen(self, stop: asyncio.Event) -> None:
        delay = RETRY_S[0]
        while not stop.is_set():
            try:
                async with self.pubsub.subscribe([TOKENS_TOPIC], self._heard):
                    self.revoked(None)  # what was remembered before the subscription holds is suspect
                    self.heard = True
                    delay = RETRY_S[0]
                    await stop.wait()
            except Exception:
                log.warning("subscribing to revoked tokens failed; tokens are looked up on every request meanwhile",
                            exc_info=True)
            finally:
                if self.heard:
                    self.heard = False
                    self.revoked(None)
            with anyio.move_on_after(delay):
                await stop.wait()
            delay = min(delay * 2, RETRY_S[1])

    async def _recheck_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with anyio.move_on_after(self.recheck_s if self._closers else None) as timer:
                await self._wake.wait()
            self._wake.clear()
            if stop.is_set() or not self._closers or not (timer.cancelled_caught or self._missed):
                continue  # a first socket to watch: the period starts now
            self._missed = False
            try:
                for token_id in await auth.revoked_among(self.hub, list(self._closers)):
                    self.revoked(token_id)
            except Exception as exc:  # a failed check must not take the sockets down; the next one may work
                if not logged_outage(exc, "checking the tokens of open websockets"):
                    log.exception("checking the tokens of open websockets failed")

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _close_all(closers: set[Closer]) -> None:
    for closer in closers:
        with suppress(Exception):  # the socket may be gone already
            await closer()


class _Announcer:
    """The Hub's publisher while revocations run: a revocation this process commits is applied before it is
    published, so the next request is refused without waiting for the message to come back from Redis."""

    def __init__(self, inner: EventPublisher, revocations: Revocations) -> None:
        self.inner = inner
        self.revocations = revocations

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        self._announce([(topic, message)])
        await self.inner.publish(topic, message)

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        self._announce(messages)
        publish_many = getattr(self.inner, "publish_many", None)
        if publish_many is not None:
            await publish_many(messages)
            return
        for topic, message in messages:
            await self.inner.publish(topic, message)

    def _announce(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        for topic, message in messages:
            if topic == TOKENS_TOPIC:
                token_id = message.get("revoked")
                self.revocations.revoked(token_id if isinstance(token_id, int) else None)

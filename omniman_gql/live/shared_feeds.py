"""Order-event feeds of one key (a channel, or every channel) served by one task per key and process: each subscriber
keeps its own position, filter and cursors, and that task hands it its events, directly while it keeps up.

`order_event_feed` gives every subscriber a watcher at the tails and a generator that wakes for each event; with
1,000 kitchen displays that is 1,000 task wake-ups (and, above it, 1,000 GraphQL result streams) per event. Here a
`FeedGroup` holds ONE watcher per key and, per batch, walks its members: a member whose adapter installed a
`deliver` function (the websocket layer: execute the shared selection, write the frame) gets its events from the
group's task without its own task waking at all. Whatever cannot be delivered that way at once (an event whose
result has errors, a socket that cannot take more, a replay after a cursor) goes to the member's own backlog, which
its generator serves exactly as `order_event_feed` would, in order; once the backlog is empty it is direct again.
Positions, cursors, filters, replay and the lag limit follow `order_event_feed` rule for rule.

A member whose adapter can also `resume` it is parked while direct and idle: its generator raises `Parked` instead of
waiting, so the adapter's task (and everything it keeps alive per subscription) ends while the group goes on
delivering; when the member needs a generator again (a declined event, a failure) the group calls `resume`, and the
adapter runs a new generator that adopts the member (`adopt`), exactly where the old one stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import anyio

from .eventlog import Position
from .feeds import LiveFeeds, OrderEventItem, _bounded, _replay, positioned, MAX_CHANNELS, MAX_STATUSES
from .pubsub import SubscriptionClosed
from .tails import Batch, Tail, Watcher, lagged_reason

log = logging.getLogger(__name__)

# What `deliver` answers: True (done), False (not delivered: the member's generator must send it), or an awaitable
# that finishes a delivery begun (the member must await it before sending anything else).
Deliver = Callable[[OrderEventItem], Awaitable[bool | Awaitable[Any]]]


class Parked(BaseException):
    """A parked member's generator ends with this: the member stays in its group (see the module's docstring). A
    BaseException, as cancellation is: nothing on its way may take it for a failure of the subscription."""

    def __init__(self, member: Member) -> None:
        super().__init__("parked")
        self.member = member
        self.finish: Callable[[], None] | None = None  # what the adapter's layers do when the subscription ends
        self.started: float | None = None  # when the subscription started, as those layers count it


class Member:
    """One subscriber of a group: its position and filter, its backlog while not direct, and why it was closed."""

    __slots__ = ("group", "position", "wanted", "horizon", "maxsize", "deliver", "resume", "parked", "direct",
                 "backlog", "size", "failure", "_waiter")

    def __init__(self, group: FeedGroup, position: Position, wanted: tuple[str, ...] | None, horizon: int,
                 maxsize: int) -> None:
        self.group = group
        self.position = position
        self.wanted = wanted
        self.horizon = horizon  # the tail's proven horizon as far as this member has seen it
        self.maxsize = maxsize
        self.deliver: Deliver | None = None
        self.resume: Callable[[], None] | None = None  # the adapter's: run a generator for this member again
        self.parked = False  # no generator: the group delivers, and calls `resume` when it cannot
        self.direct = False  # the group delivers; else everything goes through the backlog, in order
        # Entries: a batch's positioned items (an iterator, possibly partly consumed), one item, or an awaitable
        # finishing a delivery begun by the group. Made on first use, and the wake-up is a bare future: an empty
        # deque (or an asyncio.Event's waiter deque) costs ≈ 0.6 KiB, and a direct member idles for hours.
        self.backlog: deque[Any] | None = None
        self.size = 0  # events in the backlog's batches, against `maxsize`
        self.failure: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None  # what the member's generator waits on, while it does

    def items(self, batch: Batch) -> Iterator[OrderEventItem]:
        """The batch's events this member has not handled and wants, each with its cursor (moves the position).
        Lazy: the batch's horizon counts only once the batches before it are handled (ids may come out of order)."""
        self.horizon = max(self.horizon, batch.horizon)
        yield from positioned(batch.events, self.position, self.horizon, self.wanted)

    def push(self, batch: Batch) -> None:
        """Queue a batch for the member's generator; one that falls more than `maxsize` events behind is closed."""
        if self.failure is not None:
            return
        if self.size + len(batch.events) > self.maxsize:
            self.fail(SubscriptionClosed(lagged_reason(self.maxsize), code="subscriber_lagged"))
            return
        self._queue().append((len(batch.events), self.items(batch)))
        self.size += len(batch.events)
        self._wake()

    def hand_over(self, *entries: Any) -> None:
        """Stop direct delivery: these entries (then everything after them) go through the member's generator."""
        self.direct = False
        self._queue().extend((0, entry) for entry in entries)
        self._wake()

    def fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
            self.direct = False
            self.backlog = None
            self.size = 0
        self._wake()

    def _queue(self) -> deque[Any]:
        if self.backlog is None:
            self.backlog = deque()
        return self.backlog

    def _wake(self) -> None:
        if self.parked:
            self.parked = False
            resume, self.resume = self.resume, None  # the adopting generator installs its own
            assert resume is not None
            resume()
            return
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_entry(self) -> Any:
        """The next backlog entry; when there is none, become direct (if the adapter can) and wait."""
        while not self.backlog:
            if self.failure is not None:
                raise self.failure
            if self.deliver is not None:
                self.direct = True
                self.backlog = None  # empty: let the deque go while the group delivers
                if self.resume is not None:
                    self.parked = True
                    raise Parked(self)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.failure is not None:
            raise self.failure
        assert self.backlog is not None  # not empty, by the loop above
        size, entry = self.backlog.popleft()
        self.size -= size
        return entry


class FeedGroup:
    """The members of one key in one process, and the task that reads the key's tail for all of them."""

    def __init__(self, live: LiveFeeds, key: str | None) -> None:
        self.live = live
        self.key = key
        self.members: set[Member] = set()
        self.users = 0
        self.tail: Tail | None = None
        self.watcher: Watcher | None = None  # this group's one watcher at the tail
        self.error: BaseException | None = None
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.delivered = 0  # events delivered directly (what no subscriber's own task had to send)

    async def run(self) -> None:
        try:
            async with self.live.tails.watch([self.key], maxsize=self.live.buffer) as (watcher, tails):
                self.tail, self.watcher = tails[0], watcher
                self.ready.set()
                while True:
                    await self._dispatch(await watcher.get())
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - the tail stopped or this task fell behind: tell every member
            self.error = exc
            self.ready.set()
            for member in list(self.members):
                member.fail(_each(exc))

    async def _dispatch(self, batch: Batch) -> None:
        for member in list(self.members):
            if not member.direct or member.deliver is None:
                member.push(batch)
                continue
            items = member.items(batch)
            for item in items:
                try:
                    outcome = await member.deliver(item)
                except Exception:  # noqa: BLE001 - its own generator sends it, and meets the error there
                    log.debug("direct delivery failed; handing over", exc_info=True)
                    outcome = False
                if outcome is True:
                    self.delivered += 1
                    continue
                member.hand_over(item if outcome is False else outcome, items)
                break


class FeedGroups:
    """The process's groups, created with their first member and stopped with their last."""

    def __init__(self, live: LiveFeeds) -> None:
        self.live = live
        self.groups: dict[str | None, FeedGroup] = {}

    async def join(self, key: str | None, wanted: tuple[str, ...] | None, position: Position | None) -> tuple[
            FeedGroup, Member]:
        group = self.groups.get(key)
        if group is None or group.error is not None:
            group = self.groups[key] = FeedGroup(self.live, key)
            group.task = asyncio.create_task(group.run(), name=f"omniman-feed-group-{key or '*'}")
        group.users += 1
        try:
            await group.ready.wait()
            if group.error is not None:
                raise _each(group.error)
            tail = group.tail
            assert tail is not None
            # From here to `members.add`, nothing awaits: the tail's floor and seen ids are exactly what this member
            # will not be handed (they were read before it joined), as in `order_event_feed`.
            if position is None:
                position = Position(floor=tail.floor)
                for event_id in tail.seen:
                    position.mark(event_id)
            member = Member(group, position, wanted, tail.floor, self.live.buffer)
            group.members.add(member)
            return group, member
        except BaseException:
            await self.leave(group, None)
            raise

    async def leave(self, group: FeedGroup, member: Member | None) -> None:
        group.members.discard(member)  # type: ignore[arg-type]
        group.users -= 1
        if group.users == 0:
            if self.groups.get(group.key) is group:
                del self.groups[group.key]
            if group.task is not None and not group.task.done():
                group.task.cancel()
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    try:
                        await group.task
                    except asyncio.CancelledError:
                        pass


def followers(live: LiveFeeds, key: str | None) -> int:
    """How many feeds of either kind follow `key` in this process (each misses nothing committed from then on)."""
    tail = live.tails.tails.get(key)
    group = feed_groups(live).groups.get(key)
    watchers = [w for w in tail.watchers if group is None or w is not group.watcher] if tail is not None else []
    return len(watchers) + (len(group.members) if group is not None else 0)


def _each(error: BaseException) -> BaseException:
    """A member's own copy of the group's failure (one exception object raised in many tasks would tangle)."""
    if isinstance(error, SubscriptionClosed):
        return SubscriptionClosed(error.reason, code=error.code)
    return SubscriptionClosed(f"The live stream stopped: {error}", code="unavailable")


def feed_groups(live: LiveFeeds) -> FeedGroups:
    groups = live.attachments.get("feed_groups")
    if groups is None:
        groups = live.attachments["feed_groups"] = FeedGroups(live)
    return groups


async def shared_order_event_feed(
    live: LiveFeeds,
    *,
    channel_codes: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    after: str | None = None,
    deliver: Deliver | None = None,
    resume: Callable[[], None] | None = None,
    adopt: Member | None = None,
) -> AsyncIterator[OrderEventItem]:
    """`order_event_feed` for one channel (or every channel: `channel_codes` None), through the key's group. With
    `deliver`, events go to it from the group's task whenever nothing is queued before them; this generator then
    yields only what `deliver` declined. With `resume` too, it raises `Parked` (the member stays in its group) once
    the member is direct and idle; `adopt` then continues a parked member (the same arguments, no replay).
    Errors: as `order_event_feed`.
    """
    max_length = live.hub.settings.max_string_length
    channels = _bounded(channel_codes, limit=MAX_CHANNELS, name="channel_codes", max_length=max_length)
    wanted = _bounded(statuses, limit=MAX_STATUSES, name="statuses", max_length=max_length)
    if channels is not None and len(channels) != 1:
        raise ValueError("a shared feed follows one channel or every channel")
    start = Position.decode(after) if after is not None else None
    groups = feed_groups(live)
    if adopt is None:
        group, member = await groups.join(channels[0] if channels else None, wanted, start)
    else:
        group, member = adopt.group, adopt
    parked = False
    try:
        if start is not None and adopt is None:
            assert group.tail is not None
            async for item in _replay(live, channels, wanted, member.position, [group.tail]):
                yield item
        member.deliver = deliver
        member.resume = resume
        while True:
            entry = await member.next_entry()
            if isinstance(entry, OrderEventItem):
                yield entry
            elif isinstance(entry, Iterator):
                for item in entry:
                    yield item
            else:
                await entry  # a delivery the group began on a socket that could not take it at once
    except Parked:
        parked = True
        raise
    finally:
        if not parked:
            with anyio.CancelScope(shield=True):
                await groups.leave(group, member)


async def release(live: LiveFeeds, member: Member) -> None:
    """Take a parked member out of its group (its subscription ended while no generator ran for it)."""
    member.parked, member.resume, member.deliver = False, None, None
    with anyio.CancelScope(shield=True):
        await feed_groups(live).leave(member.group, member)

"""The order-event feed: one subscriber's events, replayed after a cursor then live, with no gap and no duplicate.

A feed follows the tail of its channel set (one, several or every channel, `tails`): it joins it first (so nothing
committed from then on is missed), replays from the database what its cursor has not seen, then takes the tail's
batches, skipping whatever its position has already handled (`eventlog` says why a position is a floor plus a few
ids: a late-committing lower id is not lost on PostgreSQL). Without `after` it starts at "now", what the tail had
read when the feed joined. The `statuses` filter matches the order's status right after the event
(`eventlog.with_orders`): exact, and the same live or replayed; events that do not match still move the cursor on.

Delivery. While a follower keeps up, its adapter may take its events straight from the tail's task (`deliver`: the
websocket layer executes the shared selection and writes the frame), so 1,000 kitchen displays do not mean 1,000
task wake-ups per event. Anything not delivered that way at once (declined, an unfinished send, a replay) goes to the
follower's `Inbox`, which its generator serves in order; once the inbox is empty it is direct again. An adapter that
can also `resume` a follower lets it park while direct and idle: the generator raises `Parked` instead of waiting,
so the adapter's task and all it holds per subscription can end, and the tail calls `resume` when the follower needs
a generator again (an event it could not deliver, a failure); the new generator `adopt`s it where the old one
stopped.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import ErrorCode, OmnimanError
from ..models import Order, OrderEvent
from .eventlog import LoggedEvent, Position, read_events, snapshot, with_orders
from .inbox import Inbox
from .tails import Batch, Tail, tail_key

if TYPE_CHECKING:
    from .shared import LiveFeeds

MAX_CHANNELS = 50
MAX_STATUSES = 50

# What `deliver` answers, at once: True (done), False (declined: the follower's generator sends it), an awaitable
# finishing a send begun (the generator awaits it before sending anything else), or a coroutine when the answer is
# not known yet (the tail awaits it for one of the others). Most deliveries answer at once: no coroutine per event
# and follower.
Deliver = Callable[["OrderEventItem"], Any]


@dataclass(frozen=True, slots=True)
class OrderEventItem:
    """One delivered order event: the cursor to resume after it, the event, its order and the status after it."""

    cursor: str
    logged: LoggedEvent

    @property
    def event(self) -> OrderEvent:
        return self.logged.event

    @property
    def order(self) -> Order:
        return self.logged.order

    @property
    def status(self) -> str:
        return self.logged.status


class Parked(BaseException):
    """A parked follower's generator ends with this: the follower stays with its tail (see the module's docstring).
    A BaseException, as cancellation is: nothing on its way may take it for a failure of the subscription."""

    def __init__(self, follower: Follower) -> None:
        super().__init__("parked")
        self.follower = follower
        self.finish: Callable[[], None] | None = None  # what the adapter's layers do when the subscription ends
        self.started: float | None = None  # when the subscription started, as those layers count it


class Follower:
    """One feed at its tail: its position and filter, its inbox while not direct, and whether it is parked."""

    __slots__ = ("deliver", "direct", "horizon", "inbox", "parked", "position", "resume", "tail", "wanted")

    def __init__(self, tail: Tail, position: Position, wanted: tuple[str, ...] | None, maxsize: int) -> None:
        self.tail = tail
        self.position = position
        self.wanted = wanted
        self.horizon = tail.floor  # the tail's proven horizon as far as this follower has seen it
        # Entries: a batch's positioned items (an iterator, possibly partly consumed), one item, or an awaitable
        # finishing a delivery begun by the tail; a batch counts its events against the one lag rule.
        self.inbox = Inbox(maxsize)
        self.deliver: Deliver | None = None
        self.resume: Callable[[], None] | None = None  # the adapter's: run a generator for this follower again
        self.parked = False  # no generator: the tail delivers, and calls `resume` when it cannot
        self.direct = False  # the tail delivers; else everything goes through the inbox, in order

    @property
    def failure(self) -> BaseException | None:
        return self.inbox.failure

    def items(self, batch: Batch) -> Iterator[OrderEventItem]:
        """The batch's events this follower has not handled and wants, each with its cursor (moves the position).
        Lazy: the batch's horizon counts only once the batches before it are handled (ids may come out of order)."""
        self.horizon = max(self.horizon, batch.horizon)
        yield from positioned(batch.events, self.position, self.horizon, self.wanted)

    def take(self, batch: Batch) -> Coroutine[Any, Any, None] | None:
        """A batch from the tail: delivered while direct, else queued for the follower's generator. Returns a
        coroutine for the tail to await when a delivery could not be answered at once."""
        deliver = self.deliver
        if not self.direct or deliver is None:
            self.inbox.put(self.items(batch), len(batch.events))
            self._wake()
            return None
        items = self.items(batch)
        waiting = self._deliver_items(deliver, items)
        return None if waiting is None else self._take_later(deliver, items, *waiting)

    async def _take_later(self, deliver: Deliver, items: Iterator[OrderEventItem], item: OrderEventItem,
                          pending: Coroutine[Any, Any, Any]) -> None:
        while True:
            try:
                outcome = await pending
            except Exception:  # noqa: BLE001 - its own generator sends it, and meets the error there
                outcome = False
            if outcome is not True:
                self._hand_over(item, outcome, items)
                return
            self.tail.delivered += 1
            waiting = self._deliver_items(deliver, items)
            if waiting is None:
                return
            item, pending = waiting

    def _deliver_items(self, deliver: Deliver,
                       items: Iterator[OrderEventItem]) -> tuple[OrderEventItem, Any] | None:
        """Deliver the batch's items: None when done (or handed over), else the first item whose answer is a
        coroutine, with that coroutine."""
        tail = self.tail
        for item in items:
            try:
                outcome = deliver(item)
            except Exception:  # noqa: BLE001 - its own generator sends it, and meets the error there
                outcome = False
            if outcome is True:  # the usual answer: looked at first
                tail.delivered += 1
            elif inspect.iscoroutine(outcome):
                return item, outcome
            else:
                self._hand_over(item, outcome, items)
                return None
        return None

    def _hand_over(self, item: OrderEventItem, outcome: Any, items: Iterator[OrderEventItem]) -> None:
        """Not delivered: `item` (or the send begun for it) and the rest of the batch go to the generator, and so
        does everything after them."""
        self.direct = False
        self.inbox.put(item if outcome is False else outcome)
        self.inbox.put(items)
        self._wake()

    def fail(self, error: BaseException) -> None:
        self.direct = False
        self.inbox.fail(error)
        self._wake()

    def _wake(self) -> None:
        if self.parked:
            self.parked = False
            resume, self.resume = self.resume, None  # the adopting generator installs its own
            assert resume is not None
            resume()

    async def next_entry(self) -> Any:
        """The next inbox entry; when there is none, become direct (if the adapter can) and park or wait."""
        if not len(self.inbox) and self.failure is None and self.deliver is not None:
            self.direct = True
            if self.resume is not None:
                self.parked = True
                raise Parked(self)
        return await self.inbox.get()


def positioned(events: Sequence[LoggedEvent], position: Position, safe: int,
               wanted: tuple[str, ...] | None) -> Iterator[OrderEventItem]:
    """Events not yet handled by `position`, those `wanted`, each with the cursor right after it; moves `position`
    on (to `safe`, a proven horizon, at the end)."""
    for logged in events:
        if position.handled(logged.id):
            continue
        position.mark(logged.id)
        position.advance(min(safe, logged.id))  # everything below it, in id order, is handled by now
        if wanted is None or logged.status in wanted:
            yield OrderEventItem(cursor=position.encode(), logged=logged)
    position.advance(safe)


def _bounded(values: Sequence[str] | None, *, limit: int, name: str, max_length: int) -> tuple[str, ...] | None:
    if values is None:
        return None
    values = tuple(dict.fromkeys(values))
    if not values:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`{name}` must not be empty (leave it out for all).",
                           field=(name,))
    if len(values) > limit:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`{name}` takes at most {limit} values.", field=(name,))
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value or len(value) > max_length:
            raise OmnimanError(ErrorCode.INVALID_INPUT, f"Each of `{name}` must be 1 to {max_length} characters.",
                               field=(name, i))
    return values


async def order_event_feed(
    live: LiveFeeds,
    *,
    channel_codes: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    after: str | None = None,
    deliver: Deliver | None = None,
    resume: Callable[[], None] | None = None,
    adopt: Follower | None = None,
) -> AsyncIterator[OrderEventItem]:
    """Order events of `channel_codes` (None: every channel) whose order status right after the event is in
    `statuses` (None: any), from after the cursor `after` (None: from now), forever. With `deliver`, events go to it
    from the tail's task whenever nothing is queued before them, and this generator yields only what it declined;
    with `resume` too, the generator parks (raises `Parked`) once direct and idle, and `adopt` continues a parked
    follower (the same arguments, no replay).

    Errors: invalid_input (bad cursor or filters). Raises `SubscriptionClosed` when the consumer fell more than
    `live.buffer` events behind (resume with the last cursor), or the live stream stopped.
    """
    max_length = live.hub.settings.max_string_length
    channels = _bounded(channel_codes, limit=MAX_CHANNELS, name="channel_codes", max_length=max_length)
    wanted = _bounded(statuses, limit=MAX_STATUSES, name="statuses", max_length=max_length)
    start = Position.decode(after) if after is not None else None
    if adopt is None:
        tail = await live.tails.acquire(tail_key(channels))
        # Nothing awaits from here to `followers.add`: the tail's floor and seen ids are exactly what this follower
        # will not be handed (read before it joined).
        follower = Follower(tail, start or tail.start_position(), wanted, live.buffer)
        tail.followers.add(follower)
        replay = start is not None
    else:
        follower, replay = adopt, False
    parked = False
    try:
        if replay:
            async for item in _replay(live, channels, wanted, follower.position, follower.tail):
                yield item
        follower.deliver, follower.resume = deliver, resume
        while True:
            entry = await follower.next_entry()
            if isinstance(entry, OrderEventItem):
                yield entry
            elif isinstance(entry, Iterator):
                for item in entry:
                    yield item
            else:
                await entry  # a delivery the tail began on a socket that could not take it at once
    except Parked:
        parked = True
        raise
    finally:
        if not parked:
            with anyio.CancelScope(shield=True):
                await live.tails.release(follower.tail, follower)


async def release(follower: Follower) -> None:
    """Let go of a parked follower (its subscription ended while no generator ran for it)."""
    follower.parked, follower.resume, follower.deliver = False, None, None
    with anyio.CancelScope(shield=True):
        await follower.tail.tails.release(follower.tail, follower)


async def _replay(live: LiveFeeds, channels: tuple[str, ...] | None, wanted: tuple[str, ...] | None, position: Position,
                  tail: Tail) -> AsyncIterator[OrderEventItem]:
    """Pages of `id > floor` minus `skip`, each in its own short snapshot (never held while the consumer reads)."""
    while True:
        safe = tail.floor  # a horizon proven before now: every event at or below it is visible to a later snapshot
        limit = live.replay_page + len(position.skip)
        async with snapshot(live.hub) as db:
            rows = await read_events(db, channels, above=position.floor, limit=limit)
            logged = await with_orders(db, [row for row in rows if not position.handled(int(row.id or 0))])
        for item in logged:
            position.mark(item.id)
            position.advance(min(safe, item.id))
            if wanted is None or item.status in wanted:
                yield OrderEventItem(cursor=position.encode(), logged=item)
        if len(rows) < limit:
            position.advance(safe)
            return
        position.advance(min(safe, int(rows[-1].id or 0)))


def followers(live: LiveFeeds, channels: str | Sequence[str] | None) -> int:
    """How many feeds follow the tail of `channels` in this process (each misses nothing committed from then on)."""
    tail = live.tails.get(channels)
    return len(tail.followers) if tail is not None else 0

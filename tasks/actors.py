"""The actors: run directives by id (the database row is the truth; a message carries only ids)."""

from __future__ import annotations

import time
from collections import deque

import dramatiq
from dramatiq.asyncio import get_event_loop_thread

from omniman_gql.infra import observability
from omniman_gql.runtime import Hub
from omniman_gql.services import directives

from .broker import QUEUE, broker
from .middleware import current_hub

# Most directives one delivery claims: its message's ids plus other due, queued ones of the same topics. A burst of
# commits that each wrote one directive (one message each) is run in batches of this size, and the messages of the
# ids a batch took then cost nothing but their fetch and ack (see _Recent).
CLAIM_BATCH = 50
# How long one delivery goes on draining a backlog, a batch at a time (see _run).
DRAIN_S = 2.0
# Ids of directives this worker finished (`done`) that it remembers, to drop their later messages without a query.
RECENT = 100_000


class _Recent:
    """What this worker's Hub has in hand (`running`: claimed, outcome not yet recorded) and what it finished
    (`done`, the newest RECENT ids). A message whose every id is in either needs no database: `done` is final (only a
    `failed` directive can be revived) and a running one's outcome is recorded by its own delivery, which sends it
    again if it backs off. Anything else goes to the database, which decides."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.active = 0  # deliveries under way (counted on the event loop thread)
        self.running = directives.InHand()  # also what the worker's heartbeat renews (see tasks/leases.py)
        self.done: set[int] = set()
        self._order: deque[int] = deque()

    def covers(self, ids: list[int]) -> bool:
        done, running = self.done, self.running
        return all(i in done or i in running for i in ids)

    def finished(self, ids: list[int]) -> None:
        self.done.update(ids)
        self._order.extend(ids)
        while len(self._order) > RECENT:
            self.done.discard(self._order.popleft())


# One booted worker (so one worker Hub) per process; a new Hub (a new worker, maybe another database) starts afresh.
_recent: _Recent | None = None


def in_hand(hub: Hub) -> directives.InHand:
    """The directives this process's worker (on `hub`) has claimed and not yet finished: their leases to renew."""
    return _recent_of(hub).running


def _recent_of(hub: Hub) -> _Recent:
    global _recent
    recent = _recent
    if recent is None or recent.hub is not hub:
        recent = _recent = _Recent(hub)
    return recent


async def _run(directive_ids: list[int], recent: _Recent) -> None:
    hub, _ = current_hub()
    until = time.monotonic() + DRAIN_S
    # Messages overlapping say a burst: then the claim takes other due directives too. A lone message claims only
    # its own ids, by primary key (at low traffic there is nothing else to take, and the look for it is a scan of
    # the queued rows' index, which the churn of a queue table fills with dead entries between vacuums).
    burst = recent.active > 0
    recent.active += 1
    try:
        ran, done = await _round(hub, directive_ids, max(0, CLAIM_BATCH - len(directive_ids)) if burst else 0, recent)
        # A full batch says a backlog is waiting: go on draining it here, a batch at a time (of the topics of the
        # ids just done), rather than waiting for a message that is not yet covered to arrive; bounded in time, so
        # a delivery ends (its message is acked, a stopping worker is not held up).
        while burst and ran >= CLAIM_BATCH and done and time.monotonic() < until:
            ran, done = await _round(hub, [], CLAIM_BATCH, recent, like=done)
    finally:
        recent.active -= 1


async def _round(hub: Hub, directive_ids: list[int], extra: int, recent: _Recent, like: list[int] | None = None
                 ) -> tuple[int, list[int]]:
    """One claim (the ids and up to `extra` more, see directives.run_directives), the handlers, one completion.
    Returns (directives run, ids done)."""
    _, dispatcher = current_hub()
    later: dict[int, list[int]] = {}
    done: list[int] = []
    ran = 0
    for outcome in await directives.run_directives(hub, directive_ids, extra=extra, like=like,
                                                   running=recent.running):
        if outcome.topic:  # this delivery ran it (not a duplicate or an early delayed message): count and log the run
            ran += 1
            observability.directive_finished(hub.settings, directive_id=outcome.directive_id, topic=outcome.topic,
                                             status=outcome.status, attempts=outcome.attempts,
                                             duration_s=outcome.duration_s, retry_in_ms=outcome.retry_in_ms)
        if outcome.status == "done":
            done.append(outcome.directive_id)
        if outcome.retry_in_ms is not None:
            later.setdefault(outcome.retry_in_ms, []).append(outcome.directive_id)
    recent.finished(done)
    # Backing off (siblings failing alike share a delay, so a message): the fast path back; the sweeper covers a
    # lost message.
    for delay_ms, ids in later.items():
        await dispatcher.dispatch_later(ids, delay_ms)
    return ran, done


def _deliver(directive_ids: list[int]) -> None:
    # A plain (not async) actor: a message whose ids this worker already has in hand or finished returns here, on the
    # worker thread, without a trip to the event loop thread; the rest runs there as an async actor would
    # (run_coroutine also cancels the coroutine when dramatiq interrupts the thread, e.g. at the time limit).
    hub, _ = current_hub()
    recent = _recent_of(hub)
    if recent.covers(directive_ids):
        return
    loop_thread = get_event_loop_thread()
    if loop_thread is None:
        raise RuntimeError("no event loop thread: is WorkerHub in the broker's middleware?")
    loop_thread.run_coroutine(_run(directive_ids, recent))


@dramatiq.actor(queue_name=QUEUE, broker=broker, max_retries=0)
def run_directives(directive_ids: list[int]) -> None:
    """Several directives in one message (those one commit wrote, a sweeper's batch): one claim and one completion
    for all, and one Redis fetch and ack, instead of one of each per directive. The claim also takes other due
    directives of the same topics, up to CLAIM_BATCH in all."""
    _deliver([int(i) for i in directive_ids])


@dramatiq.actor(queue_name=QUEUE, broker=broker, max_retries=0)
def run_directive(directive_id: int) -> None:
    """One directive per message: what earlier versions sent (messages still queued or delayed in Redis)."""
    _deliver([int(directive_id)])

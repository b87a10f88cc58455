"""The actors: run directives by id (the database row is the truth; a message carries only ids)."""

from __future__ import annotations

import dramatiq

from omniman_gql import observability
from omniman_gql.services import directives

from .broker import QUEUE, broker
from .middleware import current_hub


async def _run(directive_ids: list[int]) -> None:
    hub, dispatcher = current_hub()
    later: dict[int, list[int]] = {}
    for outcome in await directives.run_directives(hub, directive_ids):
        if outcome.topic:  # this delivery ran it (not a duplicate or an early delayed message): count and log the run
            observability.directive_finished(hub.settings, directive_id=outcome.directive_id, topic=outcome.topic,
                                             status=outcome.status, attempts=outcome.attempts,
                                             duration_s=outcome.duration_s, retry_in_ms=outcome.retry_in_ms)
        if outcome.retry_in_ms is not None:
            later.setdefault(outcome.retry_in_ms, []).append(outcome.directive_id)
    # Backing off (siblings failing alike share a delay, so a message): the fast path back; the sweeper covers a
    # lost message.
    for delay_ms, ids in later.items():
        await dispatcher.dispatch_later(ids, delay_ms)


@dramatiq.actor(queue_name=QUEUE, broker=broker, max_retries=0)
async def run_directives(directive_ids: list[int]) -> None:
    """Several directives in one message (those one commit wrote, a sweeper's batch): one claim and one completion
    for all, and one Redis fetch and ack, instead of one of each per directive."""
    await _run([int(i) for i in directive_ids])


@dramatiq.actor(queue_name=QUEUE, broker=broker, max_retries=0)
async def run_directive(directive_id: int) -> None:
    """One directive per message: what earlier versions sent (messages still queued or delayed in Redis)."""
    await _run([int(directive_id)])

"""The one actor: run a directive by id (the database row is the truth; the message carries only the id)."""

from __future__ import annotations

import time

import dramatiq

from omniman_gql import observability
from omniman_gql.services import directives

from .broker import QUEUE, broker
from .middleware import current_hub


@dramatiq.actor(queue_name=QUEUE, broker=broker, max_retries=0)
async def run_directive(directive_id: int) -> None:
    hub, dispatcher = current_hub()
    started = time.perf_counter()
    outcome = await directives.run_directive(hub, int(directive_id))
    if outcome.topic:  # this delivery ran it (not a duplicate or an early delayed message): count and log the run
        observability.directive_finished(hub.settings, directive_id=outcome.directive_id, topic=outcome.topic,
                                         status=outcome.status, attempts=outcome.attempts,
                                         duration_s=time.perf_counter() - started, retry_in_ms=outcome.retry_in_ms)
    if outcome.retry_in_ms is not None:  # backing off: the fast path back; the sweeper covers a lost message
        await dispatcher.dispatch_later(outcome.directive_id, outcome.retry_in_ms)

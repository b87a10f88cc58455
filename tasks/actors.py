"""The one actor: run a directive by id (the database row is the truth; the message carries only the id)."""

from __future__ import annotations

import dramatiq

from omniman_gql.services import directives

from .broker import QUEUE, broker
from .middleware import current_hub


@dramatiq.actor(queue_name=QUEUE, broker=broker, max_retries=0)
async def run_directive(directive_id: int) -> None:
    hub, dispatcher = current_hub()
    outcome = await directives.run_directive(hub, int(directive_id))
    if outcome.retry_in_ms is not None:  # backing off: the fast path back; the sweeper covers a lost message
        await dispatcher.dispatch_later(outcome.directive_id, outcome.retry_in_ms)

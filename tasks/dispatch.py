"""`DramatiqDispatcher`: hands committed directive ids to the broker (implements protocols.DirectiveDispatcher)."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import dramatiq

from omniman_gql.settings import Settings

from .actors import run_directives
from .broker import build_broker

# Ids per message. A commit's directives (50 in bench/directives.py) travel together, so they cost one Redis round
# trip to send, one fetch and ack, one claim and one completion; a sweeper's backlog (up to 500 ids) is split so
# that several worker threads and processes share it.
BATCH = 50


class DramatiqDispatcher:
    """Sends the ids of one dispatch as `run_directives` messages of up to BATCH ids each (to the actor's broker
    unless told otherwise). The Redis client is synchronous, so sending happens in a worker thread; failures
    propagate to the Hub, which logs them and leaves the rows `queued` for the sweeper."""

    def __init__(self, broker: dramatiq.Broker | None = None) -> None:
        self.broker = broker or run_directives.broker

    def send(self, directive_ids: Sequence[int], *, delay_ms: int | None = None) -> None:
        ids = [int(directive_id) for directive_id in directive_ids]
        for start in range(0, len(ids), BATCH):
            self.broker.enqueue(run_directives.message(ids[start:start + BATCH]), delay=delay_ms)

    async def dispatch(self, directive_ids: Sequence[int]) -> None:
        if directive_ids:
            ids = list(directive_ids)
            await anyio.to_thread.run_sync(lambda: self.send(ids))

    async def dispatch_later(self, directive_ids: Sequence[int], delay_ms: int) -> None:
        ids = list(directive_ids)
        await anyio.to_thread.run_sync(lambda: self.send(ids, delay_ms=max(1, delay_ms)))


_brokers: dict[tuple[str, str], dramatiq.Broker] = {}


def dispatcher_for(settings: Settings) -> DramatiqDispatcher:
    """The web process's dispatcher: to the Redis broker named by `settings` when it has a `redis_url` (workers
    elsewhere run the directives), else to this process's in-process broker (run by the embedded worker)."""
    if not settings.redis_url:
        return DramatiqDispatcher()
    key = (settings.redis_url, settings.broker_namespace)
    if key not in _brokers:  # one connection pool per Redis and namespace, however many apps are created
        _brokers[key] = build_broker(settings)
    return DramatiqDispatcher(_brokers[key])

"""The worker's heartbeat: every `directive_heartbeat_s` it renews the leases of the directives this process is
running and takes over (requeues and sends) those whose lease expired, so a dead worker's directives run again
within `directive_lease_s + directive_heartbeat_s` with no sweeper process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from omniman_gql.outages import logged_outage
from omniman_gql.protocols import DirectiveDispatcher
from omniman_gql.runtime import Hub
from omniman_gql.services import directives

log = logging.getLogger("omniman.worker")


async def beat_once(hub: Hub, dispatcher: DirectiveDispatcher, in_hand: directives.InHand) -> list[int]:
    """One heartbeat: renew this process's leases, then take over expired ones; returns the ids sent again."""
    await directives.renew_leases(hub, in_hand.runs())
    requeued, _failed = await directives.reclaim_stuck(hub)
    if requeued:
        await dispatcher.dispatch(requeued)
    return requeued


class Heartbeat:
    """`beat_once` in a loop on the worker's event loop, from boot to shutdown. `in_hand` is looked up on every
    beat (the actors create it with their first message)."""

    def __init__(self, hub: Hub, dispatcher: DirectiveDispatcher,
                 in_hand: Callable[[], directives.InHand]) -> None:
        self.hub = hub
        self.dispatcher = dispatcher
        self.in_hand = in_hand
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="omniman-directive-heartbeat")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        interval = self.hub.settings.directive_heartbeat_s
        while not self._stop.is_set():
            try:
                await beat_once(self.hub, self.dispatcher, self.in_hand())
            except Exception as exc:  # the database or the broker may be back next time; a missed beat is not fatal
                if not logged_outage(exc, "directive heartbeat"):
                    log.exception("directive heartbeat failed; trying again in %ss", interval)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)

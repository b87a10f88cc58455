"""The safety net: re-send due `queued` directives (a lost broker message), release expired holds, and take over
`running` directives whose lease expired (the workers' heartbeats do that too, so a dead worker is recovered without
a sweeper; see tasks/leases.py); every `retention_interval_s`, purge what is past its retention and abandon idle
sessions.

Run it as its own process with `python -m tasks.sweeper` (or `omniman sweeper`); the embedded default runs the loop
inside the web process. Several sweepers at once are harmless: claiming is a conditional update."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
from dataclasses import dataclass, field

from omniman_gql.handlers.stock import release_expired_holds
from omniman_gql.infra import observability
from omniman_gql.outages import logged_outage
from omniman_gql.protocols import DirectiveDispatcher
from omniman_gql.runtime import Hub
from omniman_gql.services import directives, retention
from omniman_gql.settings import get_settings

log = logging.getLogger("omniman.sweeper")


@dataclass(frozen=True)
class SweepReport:
    dispatched: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    holds_released: int = 0


async def sweep_once(hub: Hub, dispatcher: DirectiveDispatcher | None = None) -> SweepReport:
    """One pass. Due rows are re-sent only once they sat untouched for `directive_redispatch_after_s`, so the fast
    path (dispatch after commit) is not doubled, and a backlog is re-sent at most once per that period."""
    requeued, failed = await directives.reclaim_stuck(hub)
    released = await release_expired_holds(hub)
    idle = dt.timedelta(seconds=hub.settings.directive_redispatch_after_s)
    due = sorted(set(await directives.due_ids(hub, idle_for=idle)) | set(requeued))
    if due:
        await (dispatcher or hub.dispatcher).dispatch(due)
    report = SweepReport(dispatched=due, requeued=requeued, failed=failed, holds_released=released)
    if due or failed or released:
        log.info("sweep: dispatched %d, requeued %d, failed %d, holds released %d", len(due), len(requeued),
                 len(failed), released)
    return report


@dataclass(frozen=True)
class RetentionReport:
    purged: dict[str, int]  # rows deleted per kind (retention.KINDS)
    idle_abandoned: list[tuple[str, str]]  # (channel, session key) of the idle sessions abandoned


async def retain_once(hub: Hub, now: dt.datetime | None = None) -> RetentionReport:
    """One retention pass: idle sessions abandoned first (their holds released), then the purge, counted in the
    metrics of this process."""
    idle = await retention.abandon_idle_sessions(hub, now=now)
    purged = await retention.purge(hub, now=now)
    observability.rows_purged(purged)
    if idle or any(purged.values()):
        log.info("retention: %d idle session(s) abandoned; purged %s", len(idle),
                 ", ".join(f"{kind} {count}" for kind, count in purged.items()))
    return RetentionReport(purged=purged, idle_abandoned=idle)


async def run_sweeper(hub: Hub, *, stop: asyncio.Event | None = None) -> None:
    """Sweep every `sweeper_interval_s`, and run retention every `retention_interval_s`, until `stop` is set (or
    the task is cancelled); a failed pass is logged and the loop goes on (the database or the broker may be back
    next time)."""
    stop = stop or asyncio.Event()
    retained_at: float | None = None
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            await sweep_once(hub)
            if retained_at is None or loop.time() - retained_at >= hub.settings.retention_interval_s:
                retained_at = loop.time()
                await retain_once(hub)
        except Exception as exc:
            if not logged_outage(exc, "sweeper"):
                log.exception("sweep failed; trying again in %ss", hub.settings.sweeper_interval_s)
        try:
            await asyncio.wait_for(stop.wait(), timeout=hub.settings.sweeper_interval_s)
        except TimeoutError:
            pass


async def _main() -> None:
    from .dispatch import DramatiqDispatcher

    settings = get_settings()
    hub = Hub.create(settings, dispatcher=DramatiqDispatcher())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("sweeper running every %ss", settings.sweeper_interval_s)
    try:
        await run_sweeper(hub, stop=stop)
    finally:
        await hub.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main())


if __name__ == "__main__":
    main()

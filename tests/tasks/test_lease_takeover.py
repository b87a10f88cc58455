"""Real `omniman worker` processes and no sweeper: a worker killed mid-directive has its directive run again by
another worker once the lease expires, exactly once; a worker paused past its lease cannot record its outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings
from tests.tasks.processes import WorkerProcess
from tests.tasks.support import describe, directive, enqueue, eventually, holds, on_hand
from tests.tasks.test_resilience import held_order

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def lease_settings(task_settings: Settings) -> Settings:
    """A long running timeout (no time limit cuts the blocked handler off, no fallback rule applies): only the
    lease (2 s, a beat every 0.5 s) decides when a directive is taken over."""
    return task_settings.model_copy(update={"directive_running_timeout_s": 300, "directive_lease_s": 2.0,
                                            "directive_heartbeat_s": 0.5})


def _exists(path: Path) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return path.exists()
    return probe


async def _done(hub: Hub, directive_id: int) -> Directive | None:
    row = await directive(hub, directive_id)
    return row if row.status in ("done", "failed") else None


async def test_a_killed_workers_directive_is_run_by_another_worker_within_a_minute_exactly_once(
    task_hub: Hub, dispatching_hub: Hub, lease_settings: Settings, tmp_path: Path
) -> None:
    order_ref, order_holds = await held_order(task_hub)
    (tmp_path / "gate-2").touch()  # the first attempt's gate never opens: it blocks until its worker is killed
    first = WorkerProcess(lease_settings, tmp_path / "first.log")
    second = None
    try:
        directive_id = await enqueue(dispatching_hub, "test.gated_by_attempt",
                                     {"holds": order_holds, "order_ref": order_ref, "dir": str(tmp_path)},
                                     order_ref=order_ref)
        await eventually(_exists(tmp_path / "started-1"), timeout=30, what="the first worker to start the directive")
        second = WorkerProcess(lease_settings, tmp_path / "second.log")

        first.kill()  # SIGKILL: no cleanup, the row stays `running` with the dead worker's lease
        killed_at = time.monotonic()
        left = await directive(task_hub, directive_id)
        done = await eventually(lambda: _done(task_hub, directive_id), timeout=60,
                                what=f"another worker to take the directive over (logs in {tmp_path})")
        took_s = time.monotonic() - killed_at
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert (left.status, left.attempts) == ("running", 1)
    assert (done.status, done.attempts) == ("done", 2), describe([done])
    assert took_s < 60
    assert sorted(p.name for p in tmp_path.glob("*-[0-9]")) == ["finished-2", "gate-2", "started-1", "started-2"]
    assert await on_hand(task_hub, "MUG") == Decimal(8)  # 10 − 2, once
    assert [h.status for h in await holds(task_hub)] == ["fulfilled"]


async def test_a_worker_paused_past_its_lease_cannot_mark_the_directive_done(
    task_hub: Hub, dispatching_hub: Hub, lease_settings: Settings, tmp_path: Path
) -> None:
    order_ref, order_holds = await held_order(task_hub)
    stale_log = tmp_path / "stale.log"
    stale = WorkerProcess(lease_settings, stale_log, OMNIMAN_LOG_JSON="true")
    newer = None
    try:
        directive_id = await enqueue(dispatching_hub, "test.gated_by_attempt",
                                     {"holds": order_holds, "order_ref": order_ref, "dir": str(tmp_path)},
                                     order_ref=order_ref)
        await eventually(_exists(tmp_path / "started-1"), timeout=30, what="the first worker to start the directive")
        stale.pause()  # SIGSTOP: alive, holding attempt 1, but no heartbeat renews its lease
        newer = WorkerProcess(lease_settings, tmp_path / "newer.log")
        await eventually(_exists(tmp_path / "started-2"), timeout=60,
                         what=f"the other worker to take the directive over (logs in {tmp_path})")

        # The stale worker wakes up, finishes its handler and tries to record `done` for attempt 1.
        (tmp_path / "gate-1").touch()
        stale.resume()
        await eventually(_exists(tmp_path / "finished-1"), timeout=30, what="the stale worker's handler to return")
        refused = await eventually(lambda: _run_logged(stale_log, directive_id), timeout=30,
                                   what="the stale worker to log its run's outcome")
        while_newer_runs = await directive(task_hub, directive_id)

        (tmp_path / "gate-2").touch()
        done = await eventually(lambda: _done(task_hub, directive_id), timeout=30, what="the newer run to finish")
    finally:
        stale.stop()
        if newer is not None:
            newer.stop()

    assert (refused["outcome"], refused["attempts"]) == ("lost", 1), refused  # its completion was fenced off
    assert (while_newer_runs.status, while_newer_runs.attempts) == ("running", 2), describe([while_newer_runs])
    assert (done.status, done.attempts, done.last_error) == ("done", 2, ""), describe([done])
    assert await on_hand(task_hub, "MUG") == Decimal(8)  # both runs applied the commit; it took effect once
    assert [h.status for h in await holds(task_hub)] == ["fulfilled"]


async def _run_logged(log: Path, directive_id: int) -> dict[str, Any] | None:
    """The JSON line (OMNIMAN_LOG_JSON) in which the worker logged its run of the directive, if it has."""
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "directive" and record.get("directive_id") == directive_id:
                return record  # type: ignore[no-any-return]
    return None

"""`run_directive_now` on each database: a deferred or failed directive becomes due and runs once, however many
"run now" presses and deliveries race; a running or done one is refused and left alone."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import update
from sqlmodel import col

from omniman_gql.errors import ErrorCode
from omniman_gql.models import Directive, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import console
from omniman_gql.services import directives as svc
from tests.services.support import raises
from tests.tasks.support import directive, enqueue

pytestmark = pytest.mark.anyio


async def _set(hub: Hub, directive_id: int, **values: object) -> None:
    async with hub.transaction() as uow:
        await uow.db.execute(update(Directive).where(col(Directive.id) == directive_id).values(**values))


async def test_a_deferred_directive_runs_once_under_concurrent_run_now_and_deliveries(task_hub: Hub) -> None:
    # Given a directive waiting out a back-off an hour long
    directive_id = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    await _set(task_hub, directive_id, available_at=utcnow() + dt.timedelta(hours=1))
    assert (await svc.run_directive(task_hub, directive_id)).status != "done"  # not due: nothing runs

    # When "run now" is pressed three times at once, then three deliveries race for it
    pressed = await asyncio.gather(*(console.run_directive_now(task_hub, directive_id=directive_id)
                                     for _ in range(3)))
    assert {row.status for row in pressed} == {"queued"}
    assert all(row.available_at <= utcnow() for row in pressed)
    outcomes = await asyncio.gather(*(svc.run_directive(task_hub, directive_id) for _ in range(3)))

    # Then exactly one delivery ran it, once
    assert Counter(o.status for o in outcomes)["done"] == 1, outcomes
    row = await directive(task_hub, directive_id)
    assert (row.status, row.attempts) == ("done", 1)


async def test_a_failed_directive_gets_another_attempt(task_hub: Hub) -> None:
    directive_id = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    await _set(task_hub, directive_id, status="failed", attempts=5, last_error="boom")

    row = await console.run_directive_now(task_hub, directive_id=directive_id)
    assert row.status == "queued" and row.last_error == "boom"  # the reason stays until it succeeds
    assert (await svc.run_directive(task_hub, directive_id)).status == "done"
    assert (await directive(task_hub, directive_id)).attempts == 6


async def test_running_and_done_directives_are_refused_and_left_alone(task_hub: Hub) -> None:
    directive_id = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    claimed = await svc.claim(task_hub, directive_id)
    assert claimed is not None
    error = await raises(ErrorCode.DIRECTIVE_NOT_RUNNABLE, console.run_directive_now(task_hub,
                                                                                       directive_id=directive_id))
    assert error.context == {"id": directive_id, "status": "running"}
    row = await directive(task_hub, directive_id)
    assert (row.status, row.attempts, row.lease_expires_at) == ("running", 1, claimed.lease_expires_at)

    assert await svc.complete(task_hub, claimed)
    await raises(ErrorCode.DIRECTIVE_NOT_RUNNABLE, console.run_directive_now(task_hub, directive_id=directive_id))
    await raises(ErrorCode.NOT_FOUND, console.run_directive_now(task_hub, directive_id=10**12))


async def test_alerts_count_failed_and_overdue_queued_directives(task_hub: Hub) -> None:
    assert not (await console.directive_alerts(task_hub)).alerting
    waiting = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    backing_off = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    failed = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    now = utcnow()
    await _set(task_hub, waiting, available_at=now - dt.timedelta(minutes=6))  # due 6 min ago, nobody took it
    await _set(task_hub, backing_off, available_at=now + dt.timedelta(minutes=30))  # not due: not overdue
    await _set(task_hub, failed, status="failed")

    alerts = await console.directive_alerts(task_hub)
    assert (alerts.alerting, alerts.failed, alerts.overdue, alerts.threshold_minutes) == (True, 1, 1, 5)
    assert alerts.oldest_due_since is not None
    assert abs((alerts.oldest_due_since - (now - dt.timedelta(minutes=6))).total_seconds()) < 1

    await _set(task_hub, waiting, available_at=utcnow() - dt.timedelta(minutes=4))  # under the threshold
    await _set(task_hub, failed, status="done")
    alerts = await console.directive_alerts(task_hub)
    assert (alerts.alerting, alerts.failed, alerts.overdue) == (False, 0, 0)

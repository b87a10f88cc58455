"""Directive leases on each database: written at claim, renewed by the holder's heartbeat, fenced by the attempt
number, taken over once expired; and the settings that bound how soon a dead worker's directive runs again."""

from __future__ import annotations

import datetime as dt

import anyio
import pydantic
import pytest
from sqlalchemy import update
from sqlmodel import col

from omniman_gql.models import Directive, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.settings import Settings
from tests.tasks.support import directive, enqueue

pytestmark = pytest.mark.anyio


async def _set(hub: Hub, directive_id: int, **values: object) -> None:
    async with hub.transaction() as uow:
        await uow.db.execute(update(Directive).where(col(Directive.id) == directive_id).values(**values))


async def _claimed(hub: Hub) -> Directive:
    directive_id = await enqueue(hub, "test.flaky", {"fail_times": 0})
    claimed = await svc.claim(hub, directive_id)
    assert claimed is not None
    return claimed


async def test_a_claim_writes_a_lease_and_completion_clears_it(task_hub: Hub) -> None:
    before = utcnow()
    claimed = await _claimed(task_hub)
    after = utcnow()
    lease = dt.timedelta(seconds=task_hub.settings.directive_lease_s)

    running = await directive(task_hub, claimed.id or 0)
    assert running.lease_expires_at is not None
    assert before + lease <= running.lease_expires_at <= after + lease
    assert claimed.lease_expires_at == running.lease_expires_at  # the claim's RETURNING carries it
    assert await svc.complete(task_hub, claimed) is True
    done = await directive(task_hub, claimed.id or 0)
    assert (done.status, done.lease_expires_at) == ("done", None)


async def test_a_batch_claim_leases_every_directive_it_takes(task_hub: Hub) -> None:
    ids = [await enqueue(task_hub, "test.flaky", {"fail_times": 0}) for _ in range(3)]

    claimed, _ = await svc.claim_many(task_hub, ids)

    assert sorted(d.id or 0 for d in claimed) == ids
    assert all(d.lease_expires_at is not None and d.lease_expires_at > utcnow() for d in claimed)


async def test_renewal_extends_the_holders_lease_and_keeps_it_from_being_taken_over(task_hub: Hub) -> None:
    claimed = await _claimed(task_hub)
    # Given a lease about to lapse (the last beat was long ago) ...
    await _set(task_hub, claimed.id or 0, lease_expires_at=utcnow() - dt.timedelta(seconds=1))

    # ... when the holder's heartbeat renews it before anyone looks,
    renewed = await svc.renew_leases(task_hub, [(claimed.id or 0, claimed.attempts)])

    # then it is a full lease from now, and nobody takes it over.
    row = await directive(task_hub, claimed.id or 0)
    assert renewed == {claimed.id}
    assert row.lease_expires_at is not None and row.lease_expires_at > utcnow() + dt.timedelta(seconds=1)
    assert await svc.reclaim_stuck(task_hub) == ([], [])
    assert (await directive(task_hub, claimed.id or 0)).status == "running"


async def test_an_expired_lease_is_taken_over_and_its_stale_holder_is_fenced(task_hub: Hub) -> None:
    stale = await _claimed(task_hub)
    await _set(task_hub, stale.id or 0, lease_expires_at=utcnow() - dt.timedelta(milliseconds=1))

    requeued, failed = await svc.reclaim_stuck(task_hub)
    newer = await svc.claim(task_hub, stale.id or 0)

    assert (requeued, failed) == ([stale.id], [])
    assert newer is not None and newer.attempts == stale.attempts + 1
    # The stale holder can neither renew nor record an outcome; the newer one can.
    assert await svc.renew_leases(task_hub, [(stale.id or 0, stale.attempts)]) == set()
    assert await svc.complete(task_hub, stale) is False
    assert (await svc.fail_or_backoff(task_hub, stale, "late")).status == "skipped"
    assert await svc.renew_leases(task_hub, [(newer.id or 0, newer.attempts)]) == {newer.id}
    assert await svc.complete(task_hub, newer) is True
    row = await directive(task_hub, stale.id or 0)
    assert (row.status, row.attempts, row.last_error, row.lease_expires_at) == ("done", 2, "", None)


async def test_a_lease_is_not_renewed_past_the_running_timeout(task_hub: Hub) -> None:
    claimed = await _claimed(task_hub)
    # Started longer ago than the running timeout (1 s in the test settings): a hung handler.
    await _set(task_hub, claimed.id or 0, started_at=utcnow() - dt.timedelta(seconds=5))

    assert await svc.renew_leases(task_hub, [(claimed.id or 0, claimed.attempts)]) == set()


async def test_a_row_claimed_without_a_lease_falls_back_on_the_running_timeout(task_hub: Hub) -> None:
    """Rows left `running` by a release without leases (the column is NULL) are judged as before."""
    recent, old = await _claimed(task_hub), await _claimed(task_hub)
    await _set(task_hub, recent.id or 0, lease_expires_at=None)
    await _set(task_hub, old.id or 0, lease_expires_at=None, started_at=utcnow() - dt.timedelta(seconds=5))

    assert await svc.reclaim_stuck(task_hub) == ([old.id], [])
    assert (await directive(task_hub, recent.id or 0)).status == "running"


async def test_only_one_of_concurrent_takeovers_gets_an_expired_directive(task_settings: Settings) -> None:
    hubs = [Hub.create(task_settings) for _ in range(3)]
    try:
        stale = await _claimed(hubs[0])
        await _set(hubs[0], stale.id or 0, lease_expires_at=utcnow() - dt.timedelta(seconds=1))
        taken: list[list[int]] = []

        async def take_over(hub: Hub) -> None:
            taken.append((await svc.reclaim_stuck(hub))[0])

        async with anyio.create_task_group() as tg:
            for hub in hubs:
                tg.start_soon(take_over, hub)
    finally:
        for hub in hubs:
            await hub.dispose()
    assert sorted(taken) == [[], [], [stale.id]]


def test_the_defaults_run_a_dead_workers_directive_again_within_a_minute() -> None:
    settings = Settings()
    # Expiry, then at most one heartbeat until some worker sees it; the spec allows a minute.
    assert settings.directive_lease_s + settings.directive_heartbeat_s < 60
    assert settings.directive_heartbeat_s * 2 <= settings.directive_lease_s


def test_a_heartbeat_slower_than_half_the_lease_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="directive_heartbeat_s must be at most half"):
        Settings(directive_lease_s=10, directive_heartbeat_s=6)

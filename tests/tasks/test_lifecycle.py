"""The directive lifecycle in the core, without a broker: claim, backoff, failure, revive, reclaim, due ids."""

from __future__ import annotations

import datetime as dt

import anyio
import pytest
from sqlalchemy import update

from omniman_gql.errors import ErrorCode
from omniman_gql.models import Directive, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.settings import Settings
from tests.services.support import raises
from tests.tasks.support import directive, enqueue

pytestmark = pytest.mark.anyio


async def run_until_settled(hub: Hub, directive_id: int, *, max_runs: int = 20) -> list[svc.RunOutcome]:
    """Deliver the id again and again, waiting out each backoff, until it is done or failed."""
    outcomes = []
    for _ in range(max_runs):
        outcome = await svc.run_directive(hub, directive_id)
        outcomes.append(outcome)
        if outcome.status in ("done", "failed"):
            return outcomes
        await anyio.sleep((outcome.retry_in_ms or 0) / 1000)
    raise AssertionError(f"not settled after {max_runs} runs: {outcomes}")


async def test_handler_failing_twice_then_succeeding_is_done_with_three_attempts(task_hub: Hub) -> None:
    directive_id = await enqueue(task_hub, "test.flaky", {"fail_times": 2})

    outcomes = await run_until_settled(task_hub, directive_id)

    assert outcomes[-1].status == "done"
    row = await directive(task_hub, directive_id)
    assert (row.status, row.attempts, row.last_error) == ("done", 3, "")


async def test_backoff_doubles_from_the_setting_and_defers_the_row(task_hub: Hub) -> None:
    task_hub.settings = task_hub.settings.model_copy(update={"directive_backoff_ms": 5_000,
                                                             "directive_backoff_max_ms": 60_000})
    directive_id = await enqueue(task_hub, "test.flaky", {"fail_times": 2})

    first = await svc.run_directive(task_hub, directive_id)
    row = await directive(task_hub, directive_id)
    early = await svc.run_directive(task_hub, directive_id)  # delivered before `available_at`

    assert first == svc.RunOutcome(directive_id, "queued", 5_000)
    assert row.status == "queued" and row.available_at - row.updated_at == dt.timedelta(seconds=5)
    assert row.last_error == "RuntimeError: flaky failure on attempt 1"
    assert early.status == "queued" and early.retry_in_ms is not None and 0 < early.retry_in_ms <= 5_001
    assert (await directive(task_hub, directive_id)).attempts == 1  # the early delivery claimed nothing
    assert [svc.backoff_ms(task_hub, n) for n in (1, 2, 3, 4, 5)] == [5_000, 10_000, 20_000, 40_000, 60_000]


async def test_always_failing_handler_ends_failed_with_last_error_then_retry_runs_it_again(task_hub: Hub) -> None:
    directive_id = await enqueue(task_hub, "test.always_fails", {})

    outcomes = await run_until_settled(task_hub, directive_id)
    failed = await directive(task_hub, directive_id)
    revived = await svc.retry_directive(task_hub, directive_id=directive_id)
    again = await svc.run_directive(task_hub, directive_id)

    assert outcomes[-1].status == "failed"
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 3, "RuntimeError: the gateway is on fire")
    assert revived.status == "queued"
    assert again.status == "failed"  # one more attempt per revive
    assert (await directive(task_hub, directive_id)).attempts == 4


async def test_retry_directive_revives_only_failed_directives(task_hub: Hub) -> None:
    directive_id = await enqueue(task_hub, "test.flaky", {"fail_times": 0})

    await raises(ErrorCode.NOT_FOUND, svc.retry_directive(task_hub, directive_id=directive_id + 1000))
    error = await raises(ErrorCode.DIRECTIVE_NOT_RUNNABLE, svc.retry_directive(task_hub, directive_id=directive_id))
    assert error.context == {"id": directive_id, "status": "queued"}


async def test_retry_directive_hands_the_id_to_the_dispatcher_after_commit(task_settings: Settings) -> None:
    sent: list[list[int]] = []

    class Recorder:
        async def dispatch(self, directive_ids: list[int]) -> None:
            sent.append(list(directive_ids))

    hub = Hub.create(task_settings)
    try:
        directive_id = await enqueue(hub, "test.always_fails", {})
        await run_until_settled(hub, directive_id)
        hub.dispatcher = Recorder()
        await svc.retry_directive(hub, directive_id=directive_id)
    finally:
        await hub.dispose()
    assert sent == [[directive_id]]


async def test_unknown_topic_fails_at_once_naming_the_topic(task_hub: Hub) -> None:
    directive_id = await enqueue(task_hub, "nobody.listens", {})

    outcome = await svc.run_directive(task_hub, directive_id)

    row = await directive(task_hub, directive_id)
    assert outcome.status == "failed"
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("no handler for topic 'nobody.listens' (registered: ")
    assert "stock.hold" in row.last_error


async def test_claim_is_won_by_exactly_one_of_many_concurrent_callers(task_settings: Settings) -> None:
    hubs = [Hub.create(task_settings) for _ in range(4)]
    try:
        directive_id = await enqueue(hubs[0], "test.flaky", {"fail_times": 0})
        won: list[bool] = []

        async def try_claim(hub: Hub) -> None:
            won.append(await svc.claim(hub, directive_id) is not None)

        async with anyio.create_task_group() as tg:
            for hub in hubs:
                for _ in range(3):
                    tg.start_soon(try_claim, hub)
        row = await directive(hubs[0], directive_id)
    finally:
        for hub in hubs:
            await hub.dispose()
    assert sorted(won) == [False] * 11 + [True]
    assert (row.status, row.attempts) == ("running", 1)


async def test_a_run_whose_claim_was_reclaimed_cannot_overwrite_the_newer_run(task_hub: Hub) -> None:
    directive_id = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    first = await svc.claim(task_hub, directive_id)
    assert first is not None
    await _age_running(task_hub, directive_id, seconds=task_hub.settings.directive_lease_s + 3)
    await svc.reclaim_stuck(task_hub)
    second = await svc.claim(task_hub, directive_id)
    assert second is not None

    assert await svc.complete(task_hub, first) is False  # fenced by the attempt number
    assert (await svc.fail_or_backoff(task_hub, first, "late")).status == "skipped"
    assert await svc.complete(task_hub, second) is True
    row = await directive(task_hub, directive_id)
    assert (row.status, row.attempts, row.last_error) == ("done", 2, "")


async def _age_running(hub: Hub, directive_id: int, *, seconds: float) -> None:
    """As if claimed `seconds` ago by a worker that died at once: its lease ran out `seconds` − lease ago."""
    claimed = utcnow() - dt.timedelta(seconds=seconds)
    async with hub.transaction() as uow:
        await uow.db.execute(update(Directive).where(Directive.id == directive_id).values(
            started_at=claimed, lease_expires_at=claimed + dt.timedelta(seconds=hub.settings.directive_lease_s)))


async def test_reclaim_requeues_stuck_running_and_fails_those_out_of_attempts(task_hub: Hub) -> None:
    fresh = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    stuck = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    spent = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    for directive_id in (fresh, stuck, spent):
        assert await svc.claim(task_hub, directive_id) is not None
    await _age_running(task_hub, stuck, seconds=task_hub.settings.directive_lease_s + 1)
    await _age_running(task_hub, spent, seconds=task_hub.settings.directive_lease_s + 1)
    async with task_hub.transaction() as uow:
        await uow.db.execute(update(Directive).where(Directive.id == spent).values(attempts=3))

    requeued, failed = await svc.reclaim_stuck(task_hub)

    assert (requeued, failed) == ([stuck], [spent])
    assert (await directive(task_hub, fresh)).status == "running"
    assert (await directive(task_hub, stuck)).status == "queued"
    spent_row = await directive(task_hub, spent)
    assert spent_row.status == "failed" and "reclaimed" in spent_row.last_error


async def test_due_ids_skip_future_and_recently_touched_rows_and_bump_what_they_return(task_hub: Hub) -> None:
    due = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    later = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    async with task_hub.transaction() as uow:
        await uow.db.execute(update(Directive).where(Directive.id == later).values(
            available_at=utcnow() + dt.timedelta(hours=1)))

    assert await svc.due_ids(task_hub, idle_for=dt.timedelta(hours=1)) == []  # both were just written
    assert await svc.due_ids(task_hub) == [due]
    assert await svc.due_ids(task_hub, idle_for=dt.timedelta(seconds=30)) == []  # bumped by the previous call

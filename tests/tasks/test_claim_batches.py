"""A delivery's claim also takes other due directives of its topics: bursts of one-directive commits run in batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.settings import Settings
from tests.tasks.support import all_finished, directive, enqueue, eventually

pytestmark = pytest.mark.anyio


async def test_a_claim_with_extra_takes_due_queued_directives_of_the_same_topic_only(task_hub: Hub) -> None:
    own = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    alike = [await enqueue(task_hub, "test.flaky", {"fail_times": 0}) for _ in range(4)]
    other_topic = await enqueue(task_hub, "test.always_fails", {})
    later = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    async with task_hub.transaction() as uow:  # backing off: not due, so not taken
        await uow.execute(update(Directive.__table__).where(Directive.__table__.c.id == later)
                          .values(available_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))

    outcomes = await svc.run_directives(task_hub, [own], extra=3)

    # The message's own id first, then the extras, oldest first, bounded by `extra`.
    assert [(o.directive_id, o.status) for o in outcomes] == [(own, "done")] + [(i, "done") for i in alike[:3]]
    assert [(await directive(task_hub, i)).status for i in (alike[3], other_topic, later)] == ["queued"] * 3


async def test_a_directive_a_batch_took_is_not_run_again_when_its_own_message_arrives(task_hub: Hub) -> None:
    first, second = [await enqueue(task_hub, "test.flaky", {"fail_times": 0}) for _ in range(2)]
    assert [o.directive_id for o in await svc.run_directives(task_hub, [first], extra=49)] == [first, second]

    again = await svc.run_directives(task_hub, [second], extra=49)

    assert [(o.directive_id, o.status, o.topic) for o in again] == [(second, "skipped", "")]
    assert {((row := await directive(task_hub, i)).status, row.attempts) for i in (first, second)} == {("done", 1)}


async def test_a_failing_extra_backs_off_alone_and_its_siblings_complete(task_hub: Hub) -> None:
    own = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    flaky = await enqueue(task_hub, "test.flaky", {"fail_times": 1})
    fine = await enqueue(task_hub, "test.flaky", {"fail_times": 0})

    outcomes = await svc.run_directives(task_hub, [own], extra=49)

    assert [(o.directive_id, o.status) for o in outcomes] == [(own, "done"), (flaky, "queued"), (fine, "done")]
    assert outcomes[1].retry_in_ms is not None  # the caller sends it again after its backoff
    rows = {i: await directive(task_hub, i) for i in (own, flaky, fine)}
    assert (rows[flaky].status, rows[flaky].attempts, rows[flaky].last_error) == (
        "queued", 1, "RuntimeError: flaky failure on attempt 1")
    assert [(rows[i].status, rows[i].attempts) for i in (own, fine)] == [("done", 1)] * 2


async def test_a_round_without_ids_drains_the_topics_of_the_ids_it_is_like(task_hub: Hub) -> None:
    done = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    await svc.run_directives(task_hub, [done])
    waiting = [await enqueue(task_hub, "test.flaky", {"fail_times": 0}) for _ in range(3)]
    other_topic = await enqueue(task_hub, "test.always_fails", {})

    outcomes = await svc.run_directives(task_hub, [], extra=50, like=[done])

    assert [(o.directive_id, o.status) for o in outcomes] == [(i, "done") for i in waiting]
    assert (await directive(task_hub, other_topic)).status == "queued"
    assert await svc.run_directives(task_hub, [], extra=50, like=[done]) == []  # nothing left: nothing claimed


async def test_a_burst_of_one_directive_messages_runs_in_fewer_claims_each_directive_once(
    task_hub: Hub, task_settings: Settings, broker: Any
) -> None:
    from tasks.actors import run_directives
    from tasks.embedded import start_worker, stop_worker

    ids = [await enqueue(task_hub, "test.flaky", {"fail_times": 0}) for _ in range(60)]
    flaky = await enqueue(task_hub, "test.flaky", {"fail_times": 1})
    ids.append(flaky)
    for directive_id in ids:  # as 61 commits of one directive each send them
        broker.enqueue(run_directives.message([directive_id]))

    worker = start_worker(task_settings, threads=4)
    try:
        batch = Directive.id.in_(ids)  # type: ignore[union-attr]
        finished = await eventually(lambda: all_finished(task_hub, batch), what="the burst")
        # The messages of ids a batch already ran are acked without running anything; so are repeated ones.
        for directive_id in ids:
            broker.enqueue(run_directives.message([directive_id]))
        broker.join("directives", timeout=10_000)
        worker.join()
    finally:
        stop_worker(worker)

    assert [(d.status, d.attempts) for d in finished] == [("done", 1)] * 60 + [("done", 2)]
    rows = {d.id: d for d in await all_finished(task_hub, batch) or []}
    assert [(rows[i].status, rows[i].attempts) for i in ids] == [("done", 1)] * 60 + [("done", 2)]
    async with task_hub.transaction(readonly=True) as uow:
        started = func.count(func.distinct(Directive.started_at))  # type: ignore[arg-type]
        claims = (await uow.execute(select(started).where(batch, Directive.id != flaky))).scalar_one()
    assert claims < 30  # one claim per directive before: each claim now takes up to 50


async def test_a_claim_with_extra_skips_an_own_id_another_transaction_holds_instead_of_waiting(task_hub: Hub) -> None:
    # Two such claims taking each other's own ids as extras must not wait for each other (a deadlock, one of them
    # aborted after a second): every row a claim takes, it first locks with SKIP LOCKED.
    if task_hub.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    held = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    free = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    table = Directive.__table__
    async with task_hub.transaction() as other:  # another claim's transaction, holding `held` locked
        await other.execute(select(table.c.id).where(table.c.id == held).with_for_update())

        outcomes = await svc.run_directives(task_hub, [held], extra=49)

    assert [(o.directive_id, o.status) for o in outcomes] == [(held, "skipped"), (free, "done")]
    assert (await directive(task_hub, held)).status == "queued"  # for whoever holds it, or the sweeper's re-send

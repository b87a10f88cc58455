"""Several directives in one delivery: one claim and one completion for all, each directive keeping its own fate."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import event, update

from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.services import outbox
from tasks.actors import run_directives
from tasks.dispatch import BATCH, DramatiqDispatcher
from tests.factories import make_channel
from tests.tasks.support import all_finished, directive, enqueue, eventually

pytestmark = pytest.mark.anyio


async def test_one_failing_directive_does_not_fail_or_retry_its_siblings(task_hub: Hub) -> None:
    fine = [await enqueue(task_hub, "test.flaky", {"fail_times": 0}) for _ in range(3)]
    flaky = await enqueue(task_hub, "test.flaky", {"fail_times": 1})
    broken = await enqueue(task_hub, "test.always_fails", {})
    unknown = await enqueue(task_hub, "test.no_such_topic", {})
    ids = [fine[0], flaky, fine[1], broken, unknown, fine[2]]

    outcomes = await svc.run_directives(task_hub, ids)
    rows = {i: await directive(task_hub, i) for i in ids}

    assert [(o.directive_id, o.status) for o in outcomes] == [
        (fine[0], "done"), (flaky, "queued"), (fine[1], "done"), (broken, "queued"), (unknown, "failed"),
        (fine[2], "done")]
    assert all(rows[i].status == "done" and rows[i].attempts == 1 and rows[i].last_error == "" for i in fine)
    assert (rows[flaky].status, rows[flaky].attempts) == ("queued", 1)
    assert rows[broken].last_error == "RuntimeError: the gateway is on fire"
    assert rows[unknown].status == "failed" and "no handler for topic 'test.no_such_topic'" in rows[unknown].last_error


async def test_a_batch_delivered_again_runs_nothing_twice_and_defers_what_is_not_due(task_hub: Hub) -> None:
    task_hub.settings = task_hub.settings.model_copy(update={"directive_backoff_ms": 60_000})
    done_id = await enqueue(task_hub, "test.flaky", {"fail_times": 0})
    retry_id = await enqueue(task_hub, "test.flaky", {"fail_times": 1})
    await svc.run_directives(task_hub, [done_id, retry_id])

    again = await svc.run_directives(task_hub, [done_id, retry_id, done_id, 999_999_999])

    assert [o.directive_id for o in again] == [done_id, retry_id, 999_999_999]  # one outcome per distinct id
    assert again[0].status == "skipped" and again[2].status == "skipped"
    # Its backoff is still running: due later, so the caller sends it again then; nothing was claimed.
    assert again[1].status == "queued" and again[1].retry_in_ms is not None and again[1].retry_in_ms > 0
    assert [(await directive(task_hub, i)).attempts for i in (done_id, retry_id)] == [1, 1]


async def test_overlapping_batches_delivered_at_once_run_each_directive_once(task_hub: Hub, task_settings: Any
                                                                                ) -> None:
    ids = [await enqueue(task_hub, "test.flaky", {"fail_times": 0}) for _ in range(6)]
    other = Hub.create(task_settings)
    results: list[list[svc.RunOutcome]] = []

    async def deliver(hub: Hub, batch: list[int]) -> None:
        results.append(await svc.run_directives(hub, batch))

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(deliver, task_hub, ids)
            tg.start_soon(deliver, other, list(reversed(ids)))
    finally:
        await other.dispose()

    statuses: dict[int, list[str]] = {i: [] for i in ids}
    for outcome in (o for batch in results for o in batch):
        statuses[outcome.directive_id].append(outcome.status)
    assert all(sorted(s) == ["done", "skipped"] for s in statuses.values()), statuses
    assert {((row := await directive(task_hub, i)).status, row.attempts) for i in ids} == {("done", 1)}


async def test_completion_is_fenced_per_directive_by_its_attempt(task_hub: Hub) -> None:
    first, second = [await enqueue(task_hub, "test.flaky", {"fail_times": 0}) for _ in range(2)]
    claimed, rest = await svc.claim_many(task_hub, [first, second])
    assert rest == [] and [d.attempts for d in claimed] == [1, 1]
    async with task_hub.transaction() as uow:  # `first` reclaimed by the sweeper, then claimed by a newer run
        await uow.execute(update(Directive.__table__).where(Directive.__table__.c.id == first)
                          .values(status="queued"))
    (newer,), _ = await svc.claim_many(task_hub, [first])

    assert await svc.complete_many(task_hub, claimed) == {second}  # the stale run of `first` records nothing
    assert (await directive(task_hub, first)).status == "running"
    assert await svc.complete_many(task_hub, [newer]) == {first}



@contextmanager
def recorded_statements(hub: Hub) -> Iterator[list[str]]:
    """The SQL statements the hub's engine sends while the block runs."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(hub.engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(hub.engine.sync_engine, "before_cursor_execute", seen)

def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The console notifier's lines on stdout."""
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("notification ")]


async def test_notifications_of_one_batch_read_their_channel_once(
    task_hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = await make_channel(task_hub, config={"notifications": {"recipient": "kitchen"}})
    ids = [await enqueue(task_hub, "notification.send", {"channel_code": channel, "order_ref": f"ORD-{n}",
                                                         "status": "ready"}) for n in range(5)]
    with recorded_statements(task_hub) as statements:
        outcomes = await svc.run_directives(task_hub, ids)

    assert [o.status for o in outcomes] == ["done"] * 5
    assert sum("FROM channels" in s for s in statements) == 1
    lines = printed(capsys)
    sent = [json.loads(line.split(": ", 1)[1]) for line in lines]
    assert sorted(m["delivery_id"] for m in sent) == sorted(ids)
    assert all(line.startswith("notification order.ready to kitchen") for line in lines)


async def test_notifications_of_several_channels_get_each_its_own_settings_from_one_read(
    task_hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    bar = await make_channel(task_hub, config={"notifications": {"recipient": "bar"}})
    kitchen = await make_channel(task_hub, config={"notifications": {"recipient": "kitchen"}})
    plan = [(bar, "bar"), (kitchen, "kitchen"), ("no-such-channel", "-"), (bar, "bar")]
    ids = [await enqueue(task_hub, "notification.send", {"channel_code": code, "status": "ready"})
           for code, _ in plan]
    with recorded_statements(task_hub) as statements:
        outcomes = await svc.run_directives(task_hub, ids)

    assert [o.status for o in outcomes] == ["done"] * 4
    assert sum("FROM channels" in s for s in statements) == 1  # the unknown channel is not read again either
    sent = {json.loads(line.split(": ", 1)[1])["delivery_id"]: line.split(": ", 1)[0] for line in printed(capsys)}
    assert [sent[i] for i in ids] == [f"notification order.ready to {who}" for _, who in plan]


async def test_a_failing_prefetch_only_costs_the_handlers_their_own_read(
    task_hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [await enqueue(task_hub, "test.reads_shared", {"key": "k"}) for _ in range(3)]

    with caplog.at_level(logging.ERROR, logger="omniman.directives"):
        outcomes = await svc.run_directives(task_hub, ids)

    assert [o.status for o in outcomes] == ["done"] * 3
    assert {((row := await directive(task_hub, i)).status, row.attempts) for i in ids} == {("done", 1)}
    assert any("prefetch for directives" in r.getMessage() for r in caplog.records)


async def test_a_dispatch_sends_its_ids_in_messages_of_up_to_a_batch() -> None:
    broker = StubBroker()
    broker.declare_actor(run_directives)
    ids = list(range(1, 2 * BATCH + 4))

    DramatiqDispatcher(broker).send(ids)

    messages = [broker.queues["directives"].get_nowait() for _ in range(broker.queues["directives"].qsize())]
    sent = [json.loads(m)["args"][0] for m in messages]
    assert [len(batch) for batch in sent] == [BATCH, BATCH, 3]
    assert [i for batch in sent for i in batch] == ids
    broker.close()


async def test_the_worker_runs_a_commits_directives_as_one_message_and_retries_failing_ones(
    dispatching_hub: Hub, worker: Any
) -> None:
    async with dispatching_hub.transaction() as uow:  # as a commit writes them: dispatched together after COMMIT
        rows = await outbox.enqueue_many(uow, [("test.flaky", {"fail_times": 0})] * 3
                                         + [("test.flaky", {"fail_times": 1})] * 2)
    ids = [row.id for row in rows]

    batch = Directive.id.in_(ids)  # type: ignore[union-attr]
    finished = await eventually(lambda: all_finished(dispatching_hub, batch), what="the batch and its retries")

    assert [(d.status, d.attempts, d.last_error) for d in finished] == [("done", 1, "")] * 3 + [("done", 2, "")] * 2

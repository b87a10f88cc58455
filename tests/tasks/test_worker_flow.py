"""Directives through dramatiq on real Redis: the dispatcher sends after commit, a Worker runs the actor."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import anyio
import pytest

from omniman_gql.errors import OmnimanError
from omniman_gql.models import Directive, Session, StockHold, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.services import issues, orders, sessions
from omniman_gql.settings import Settings
from tasks.embedded import start_worker, stop_worker
from tasks.sweeper import sweep_once
from tests.tasks.support import (
    all_finished,
    cart,
    checkout,
    describe,
    directive,
    directives,
    ecommerce,
    enqueue,
    events,
    eventually,
    holds,
    on_hand,
)

pytestmark = pytest.mark.anyio


async def checked_session(hub: Hub, channel: str, key: str) -> Session | None:
    """The session once its stock check is written at its current rev (else None)."""
    from sqlalchemy import select

    async with hub.transaction(readonly=True) as uow:
        session = (await uow.db.execute(select(Session).where(
            Session.channel_code == channel, Session.session_key == key))).scalar_one()
    check = (session.data.get("checks") or {}).get("stock")
    return session if check and check["rev"] == session.rev else None


async def order_directives_done(hub: Hub, order_ref: str, count: int) -> list[Directive] | None:
    rows = await all_finished(hub, Directive.order_ref == order_ref)
    return rows if rows and len(rows) == count else None


async def test_ecommerce_flow_end_to_end_through_the_worker(dispatching_hub: Hub, worker: Any) -> None:
    hub = dispatching_hub
    shop = await ecommerce(hub, {"MUG": "10", "TEA": "4"}, {"MUG": 1500, "TEA": 900})

    key = await cart(hub, shop, [("MUG", "2"), ("TEA", "1")], intent="pi_e2e")
    session = await eventually(lambda: checked_session(hub, shop, key), what="the stock check at rev 1")
    started = time.monotonic()
    outcome = await checkout(hub, shop, key)
    assert outcome.order is not None
    done = await eventually(lambda: order_directives_done(hub, outcome.order.ref, 2), what="post-commit directives")
    latency_ms = (time.monotonic() - started) * 1000

    assert session.rev == 1 and session.data["checks"]["stock"]["rev"] == 1
    assert [(d.topic, d.status, d.attempts) for d in done] == [("stock.commit", "done", 1),
                                                                ("payment.capture", "done", 1)], describe(done)
    assert (await on_hand(hub, "MUG"), await on_hand(hub, "TEA")) == (Decimal(8), Decimal(3))
    assert sorted((h.sku, h.status) for h in await holds(hub)) == [("MUG", "fulfilled"), ("TEA", "fulfilled")]
    (captured,) = await events(hub, outcome.order.id, "payment.captured")
    assert captured.payload["intent_id"] == "pi_e2e" and captured.payload["amount_q"] == 3900
    in_db_ms = (max(d.updated_at for d in done) - outcome.order.created_at).total_seconds() * 1000
    print(f"Redis: commit → post-commit directives done: {in_db_ms:.0f} ms (row timestamps), "
          f"{latency_ms:.0f} ms observed by polling")


async def test_insufficient_stock_issue_resolved_then_commit_succeeds_through_the_worker(
    dispatching_hub: Hub, worker: Any
) -> None:
    hub = dispatching_hub
    shop = await ecommerce(hub, {"MUG": "2"}, {"MUG": 1500})
    key = await cart(hub, shop, [("MUG", "5")])
    session = await eventually(lambda: checked_session(hub, shop, key), what="the stock check")
    (issue,) = session.data["issues"]
    adjust, remove = issue["context"]["actions"]

    await issues.resolve_issue(hub, channel_code=shop, session_key=key, issue_id=issue["id"], action_id=adjust["id"])
    resolved = await eventually(lambda: checked_session(hub, shop, key), what="the check after resolving")
    outcome = await checkout(hub, shop, key)
    assert outcome.order is not None
    await eventually(lambda: order_directives_done(hub, outcome.order.ref, 2), what="post-commit directives")

    assert (issue["code"], issue["blocking"], adjust["label"], remove["label"]) == (
        "stock.insufficient", True, "Adjust to 2", "Remove item")
    assert resolved.rev == 2 and resolved.data["issues"] == []
    assert resolved.items[0]["qty"] == "2"
    assert outcome.result["total_q"] == 3000
    assert await on_hand(hub, "MUG") == 0


async def test_flaky_handler_is_retried_by_the_worker_until_done(dispatching_hub: Hub, worker: Any) -> None:
    directive_id = await enqueue(dispatching_hub, "test.flaky", {"fail_times": 2})

    rows = await eventually(lambda: all_finished(dispatching_hub, Directive.id == directive_id), what="the retries")

    assert [(d.status, d.attempts, d.last_error) for d in rows] == [("done", 3, "")]


async def test_failing_handler_ends_failed_and_retry_directive_runs_it_again(dispatching_hub: Hub, worker: Any) -> None:
    directive_id = await enqueue(dispatching_hub, "test.always_fails", {})
    (failed,) = await eventually(lambda: all_finished(dispatching_hub, Directive.id == directive_id), what="failure")

    await svc.retry_directive(dispatching_hub, directive_id=directive_id)

    async def failed_again() -> Directive | None:
        row = await directive(dispatching_hub, directive_id)
        return row if row.status == "failed" and row.attempts == 4 else None

    again = await eventually(failed_again, what="the revived run")
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 3, "RuntimeError: the gateway is on fire")
    assert again.last_error == "RuntimeError: the gateway is on fire"


async def test_cancelling_an_order_restocks_releases_and_refunds(dispatching_hub: Hub, worker: Any) -> None:
    hub = dispatching_hub
    shop = await ecommerce(hub, {"MUG": "5"}, {"MUG": 1500})
    key = await cart(hub, shop, [("MUG", "2")], intent="pi_cancel")
    await eventually(lambda: checked_session(hub, shop, key), what="the stock check")
    order = (await checkout(hub, shop, key)).order
    assert order is not None
    await eventually(lambda: order_directives_done(hub, order.ref, 2), what="post-commit directives")
    sold = await on_hand(hub, "MUG")

    await orders.transition_order(hub, ref=order.ref, status="cancelled", actor="ops")
    rows = await eventually(lambda: order_directives_done(hub, order.ref, 5), what="the cancel's directives")

    assert [(d.topic, d.status) for d in rows] == [
        ("stock.commit", "done"), ("payment.capture", "done"), ("stock.restock", "done"), ("stock.release", "done"),
        ("payment.refund", "done"),
    ], describe(rows)
    assert rows[4].payload["intent_id"] == "pi_cancel" and rows[4].payload["status"] == "cancelled"
    (refunded,) = await events(hub, order.id, "payment.refunded")
    assert refunded.payload["amount_q"] == 3000
    assert (sold, await on_hand(hub, "MUG")) == (3, 5)  # the sold mugs are back on the shelf


async def test_cancelling_before_capture_releases_the_holds_and_captures_nothing(
    task_hub: Hub, dispatching_hub: Hub, broker: Any, task_settings: Settings
) -> None:
    shop = await ecommerce(task_hub, {"MUG": "5"}, {"MUG": 1500})
    key = await cart(task_hub, shop, [("MUG", "2")], intent="pi_early")
    (hold,) = await directives(task_hub, Directive.topic == "stock.hold")
    await svc.run_directive(task_hub, hold.id or 0)
    order = (await checkout(task_hub, shop, key)).order  # nothing dispatched yet: no worker ran these
    assert order is not None
    await orders.transition_order(task_hub, ref=order.ref, status="cancelled")

    started = start_worker(task_settings, threads=2)
    try:
        await sweep_once(dispatching_hub)
        rows = await eventually(lambda: order_directives_done(task_hub, order.ref, 5), what="all five directives")
    finally:
        stop_worker(started)

    assert all(d.status == "done" for d in rows), describe(rows)
    assert await events(task_hub, order.id, "payment.captured") == []
    assert await events(task_hub, order.id, "payment.refunded") == []  # nothing was captured, nothing refunded
    assert [h.status for h in await holds(task_hub)] == ["released"]
    assert await on_hand(task_hub, "MUG") == 5


async def test_expired_holds_through_the_worker_block_the_commit_until_checked_again(
    dispatching_hub: Hub, broker: Any, task_settings: Settings
) -> None:
    hub = dispatching_hub
    started = start_worker(task_settings.model_copy(update={"hold_ttl_seconds": 1}), threads=2)
    try:
        shop = await ecommerce(hub, {"MUG": "5"}, {"MUG": 1500})
        key = await cart(hub, shop, [("MUG", "1")])
        session = await eventually(lambda: checked_session(hub, shop, key), what="the stock check")
        expires = session.data["checks"]["stock"]["result"]["hold_expires_at"]

        await anyio.sleep(max(0.0, (dt.datetime.fromisoformat(expires) - utcnow()).total_seconds()) + 0.01)
        with pytest.raises(OmnimanError) as expired:
            await checkout(hub, shop, key)
        code = expired.value.code
        report = await sweep_once(hub)
        released = await holds(hub, StockHold.status == "released")
        line = session.items[0]
        await sessions.modify_session(hub, channel_code=shop, session_key=key,
                                      ops=[{"setQty": {"lineId": line["line_id"], "qty": "2"}}])
        await eventually(lambda: checked_session(hub, shop, key), what="the new stock check")
        outcome = await checkout(hub, shop, key)
        assert outcome.order is not None
        done = await eventually(lambda: order_directives_done(hub, outcome.order.ref, 2), what="stock.commit")
    finally:
        stop_worker(started)

    assert expires is not None and code == "hold_expired"
    assert report.holds_released == 1 and len(released) == 1
    assert [d.status for d in done] == ["done", "done"], describe(done)
    assert await on_hand(hub, "MUG") == 3


async def test_sweeper_dispatches_queued_directives_nobody_sent(
    task_hub: Hub, dispatching_hub: Hub, worker: Any
) -> None:
    ids = [await enqueue(task_hub, "test.flaky", {"fail_times": 0}) for _ in range(3)]  # task_hub never dispatches

    report = await sweep_once(dispatching_hub)
    rows = await eventually(lambda: all_finished(task_hub, Directive.id.in_(ids)), what="the swept directives")

    assert report.dispatched == ids
    assert [(d.status, d.attempts) for d in rows] == [("done", 1)] * 3

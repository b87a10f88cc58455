"""The stock handlers run directly (no broker): hold and write back, insufficient stock, commit, release, expiry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import anyio
import pytest
from sqlalchemy import update

from omniman_gql.errors import ErrorCode
from omniman_gql.handlers.stock import release_expired_holds
from omniman_gql.models import Directive, Session, StockHold, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.services import issues, orders, sessions
from tests.services.support import raises
from tests.tasks.support import cart, checkout, directive, directives, ecommerce, holds, on_hand

pytestmark = pytest.mark.anyio


async def run_queued(hub: Hub, topic: str) -> list[Directive]:
    """Run every queued directive of `topic` once, in id order; return them as they ended."""
    ran = []
    for row in await directives(hub, Directive.topic == topic, Directive.status == "queued"):
        assert row.id is not None
        await svc.run_directive(hub, row.id)
        ran.append(await directive(hub, row.id))
    return ran


async def session_row(hub: Hub, channel: str, key: str) -> Session:
    async with hub.transaction(readonly=True) as uow:
        from sqlalchemy import select

        return (await uow.db.execute(select(Session).where(
            Session.channel_code == channel, Session.session_key == key))).scalar_one()


async def test_stock_hold_holds_each_sku_and_writes_the_check_at_the_session_rev(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "10", "TEA": "5"}, {"MUG": 1500, "TEA": 900})
    key = await cart(task_hub, shop, [("MUG", "2"), ("TEA", "1"), ("MUG", "1")])

    (ran,) = await run_queued(task_hub, "stock.hold")

    session = await session_row(task_hub, shop, key)
    check = session.data["checks"]["stock"]
    result = check["result"]
    held = await holds(task_hub, StockHold.reference == f"{shop}:{key}")
    assert ran.status == "done"
    assert check["rev"] == session.rev == 1
    assert result["items"] == [{"sku": "MUG", "qty": "3", "available": "10", "ok": True},
                               {"sku": "TEA", "qty": "1", "available": "5", "ok": True}]
    assert [(h["sku"], h["qty"]) for h in result["holds"]] == [("MUG", "3"), ("TEA", "1")]
    assert sorted((h.sku, h.qty, h.status) for h in held) == [("MUG", Decimal(3), "active"),
                                                               ("TEA", Decimal(1), "active")]
    ttl = dt.datetime.fromisoformat(result["hold_expires_at"]) - utcnow()
    assert dt.timedelta(minutes=14) < ttl <= dt.timedelta(minutes=15)
    assert session.data["issues"] == []


async def test_stock_hold_for_a_stale_rev_applies_nothing(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "10"})
    key = await cart(task_hub, shop, [("MUG", "1")])
    await sessions.modify_session(task_hub, channel_code=shop, session_key=key,
                                  ops=[{"addLine": {"sku": "MUG", "qty": "1", "unitPriceQ": 100}}])

    first, second = await run_queued(task_hub, "stock.hold")

    session = await session_row(task_hub, shop, key)
    assert (first.status, second.status) == ("done", "done")
    assert session.data["checks"]["stock"]["rev"] == 2
    assert [h.qty for h in await holds(task_hub, StockHold.status == "active")] == [Decimal(2)]


async def test_stock_hold_run_again_at_the_same_rev_changes_nothing(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "10"})
    key = await cart(task_hub, shop, [("MUG", "1")])
    (ran,) = await run_queued(task_hub, "stock.hold")
    before = (await session_row(task_hub, shop, key)).data["checks"]["stock"]
    async with task_hub.transaction() as uow:  # a redelivery after a reclaim
        await uow.db.execute(update(Directive).where(Directive.id == ran.id).values(status="queued"))

    await run_queued(task_hub, "stock.hold")

    assert (await session_row(task_hub, shop, key)).data["checks"]["stock"] == before
    assert len(await holds(task_hub)) == 1


async def test_insufficient_stock_gives_blocking_issues_with_adjust_and_remove_actions(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "3", "TEA": "0", "PEN": "9"})
    key = await cart(task_hub, shop, [("MUG", "2"), ("MUG", "2"), ("TEA", "1"), ("PEN", "1")])

    await run_queued(task_hub, "stock.hold")

    session = await session_row(task_hub, shop, key)
    mug1, mug2, tea, _pen = session.items
    found = {(i["context"]["line_id"], i["code"], i["blocking"]): [(a["label"], a["ops"], a["rev"])
                                                                  for a in i["context"]["actions"]]
             for i in session.data["issues"]}
    assert found == {
        (mug2["line_id"], "stock.insufficient", True): [
            ("Adjust to 1", [{"setQty": {"lineId": mug2["line_id"], "qty": "1"}}], 1),
            ("Remove item", [{"removeLine": {"lineId": mug2["line_id"]}}], 1)],
        (tea["line_id"], "stock.insufficient", True): [
            ("Remove item", [{"removeLine": {"lineId": tea["line_id"]}}], 1)],
    }
    assert mug1["line_id"] not in {i["context"]["line_id"] for i in session.data["issues"]}
    assert session.data["checks"]["stock"]["result"]["holds"] == []  # an uncommittable cart holds nothing
    assert await holds(task_hub) == []
    await raises(ErrorCode.BLOCKING_ISSUES, checkout(task_hub, shop, key))


async def test_resolving_the_issue_re_runs_the_check_and_the_commit_succeeds(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "1"}, {"MUG": 1500})
    key = await cart(task_hub, shop, [("MUG", "3")])
    await run_queued(task_hub, "stock.hold")
    (issue,) = (await session_row(task_hub, shop, key)).data["issues"]
    adjust = issue["context"]["actions"][0]

    await issues.resolve_issue(task_hub, channel_code=shop, session_key=key, issue_id=issue["id"],
                               action_id=adjust["id"])
    (hold_run,) = await run_queued(task_hub, "stock.hold")
    outcome = await checkout(task_hub, shop, key)

    assert hold_run.status == "done"
    assert adjust["label"] == "Adjust to 1"
    assert outcome.result["status"] == "committed" and outcome.result["total_q"] == 1500
    assert [(h.sku, h.qty) for h in await holds(task_hub, StockHold.status == "active")] == [("MUG", Decimal(1))]


async def test_emptied_session_releases_its_holds(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "5"})
    key = await cart(task_hub, shop, [("MUG", "2")])
    await run_queued(task_hub, "stock.hold")
    line = (await session_row(task_hub, shop, key)).items[0]

    await sessions.modify_session(task_hub, channel_code=shop, session_key=key,
                                  ops=[{"removeLine": {"lineId": line["line_id"]}}])
    await run_queued(task_hub, "stock.hold")

    assert [h.status for h in await holds(task_hub)] == ["released"]


async def test_stock_commit_fulfills_holds_once_even_when_run_twice(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "5"}, {"MUG": 1500})
    key = await cart(task_hub, shop, [("MUG", "2")])
    await run_queued(task_hub, "stock.hold")
    order = (await checkout(task_hub, shop, key)).order
    assert order is not None

    (ran,) = await run_queued(task_hub, "stock.commit")
    async with task_hub.transaction() as uow:
        await uow.db.execute(update(Directive).where(Directive.id == ran.id).values(status="queued"))
    (again,) = await run_queued(task_hub, "stock.commit")

    assert (ran.status, again.status) == ("done", "done")
    assert await on_hand(task_hub, "MUG") == 3
    assert [h.status for h in await holds(task_hub)] == ["fulfilled"]


async def test_stock_commit_of_a_released_hold_is_retried_then_fails_with_the_reason(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "5"}, {"MUG": 1500})
    key = await cart(task_hub, shop, [("MUG", "2")])
    await run_queued(task_hub, "stock.hold")
    await checkout(task_hub, shop, key)
    async with task_hub.transaction() as uow:
        await uow.db.execute(update(StockHold).values(status="released"))

    (ran,) = await run_queued(task_hub, "stock.commit")

    assert ran.status == "queued" and ran.attempts == 1
    assert "could not be fulfilled" in ran.last_error and ran.last_error.count("HLD-") == 1
    assert await on_hand(task_hub, "MUG") == 5


async def test_cancelling_releases_holds_and_the_late_stock_commit_commits_nothing(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "5"}, {"MUG": 1500})
    key = await cart(task_hub, shop, [("MUG", "2")])
    await run_queued(task_hub, "stock.hold")
    order = (await checkout(task_hub, shop, key)).order
    assert order is not None

    await orders.transition_order(task_hub, ref=order.ref, status="cancelled")
    (release,) = await run_queued(task_hub, "stock.release")
    (commit,) = await run_queued(task_hub, "stock.commit")

    assert (release.status, commit.status) == ("done", "done")
    assert [h.status for h in await holds(task_hub)] == ["released"]
    assert await on_hand(task_hub, "MUG") == 5


async def test_expired_holds_are_released_except_those_of_committed_sessions(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "5"}, {"MUG": 1500})
    open_key = await cart(task_hub, shop, [("MUG", "1")])
    sold_key = await cart(task_hub, shop, [("MUG", "2")])
    await run_queued(task_hub, "stock.hold")
    await checkout(task_hub, shop, sold_key)
    async with task_hub.transaction() as uow:
        await uow.db.execute(update(StockHold).values(expires_at=utcnow() - dt.timedelta(seconds=1)))

    released = await release_expired_holds(task_hub)

    by_ref = {h.reference: h.status for h in await holds(task_hub)}
    assert released == 1
    assert by_ref == {f"{shop}:{open_key}": "released", f"{shop}:{sold_key}": "active"}
    assert await release_expired_holds(task_hub) == 0


async def test_a_check_whose_holds_expired_blocks_the_commit_until_it_runs_again(task_hub: Hub) -> None:
    hub = task_hub
    hub.settings = hub.settings.model_copy(update={"hold_ttl_seconds": 1})
    shop = await ecommerce(hub, {"MUG": "5"}, {"MUG": 1500})
    key = await cart(hub, shop, [("MUG", "1")])
    await run_queued(hub, "stock.hold")
    await anyio.sleep(1.05)

    await raises(ErrorCode.HOLD_EXPIRED, checkout(hub, shop, key))
    assert await release_expired_holds(hub) == 1
    line = (await session_row(hub, shop, key)).items[0]
    await sessions.modify_session(hub, channel_code=shop, session_key=key,
                                  ops=[{"setQty": {"lineId": line["line_id"], "qty": "2"}}])
    hub.settings = hub.settings.model_copy(update={"hold_ttl_seconds": 900})
    await run_queued(hub, "stock.hold")
    outcome = await checkout(hub, shop, key)
    assert outcome.result["status"] == "committed"

"""Invariants I11–I14 of concepts.md §12 (rev, checks and their freshness), one named test each, on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from omniman_gql.models import Directive, Order, Session
from omniman_gql.runtime import Hub
from omniman_gql.services import commit, sessions
from tests.factories import make_channel, open_with_items
from tests.services.support import count, raises, rows

pytestmark = pytest.mark.anyio

STOCK_ISSUE = {"code": "stock.insufficient", "blocking": True, "message": "only 1 left",
               "context": {"actions": [{"label": "remove", "ops": [{"op": "remove_line", "line_id": "L-X"}]}]}}


async def modify(hub: Hub, code: str, key: str, *ops: dict[str, Any], **kw: Any) -> Session:
    return await sessions.modify_session(hub, channel_code=code, session_key=key, ops=list(ops), **kw)


async def stored(hub: Hub, key: str) -> Session:
    (row,) = await rows(hub, Session, Session.session_key == key)
    return row


async def test_i11_every_modify_bumps_rev_by_exactly_one(hub: Hub) -> None:
    code = await make_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code)
    key = session.session_key
    assert session.rev == 0
    three_ops = [{"op": "add_line", "sku": f"S{i}", "qty": "1", "unit_price_q": 10} for i in range(3)]
    assert (await modify(hub, code, key, *three_ops)).rev == 1
    assert (await modify(hub, code, key, {"op": "set_data", "path": "notes", "value": "x"})).rev == 2
    assert (await modify(hub, code, key, {"op": "set_data", "path": "notes", "value": "x"})).rev == 3
    # A failed modify changes nothing at all, rev included.
    await raises("unknown_line_id", modify(hub, code, key, three_ops[0], {"op": "remove_line", "line_id": "L-NOPE"}))
    after = await stored(hub, key)
    assert after.rev == 3 and len(after.items) == 3


async def test_i12_every_modify_clears_checks_and_issues(hub: Hub) -> None:
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("A", "1", 100)])
    key = session.session_key
    assert await sessions.write_back_check(hub, channel_code=code, session_key=key, check_code="stock",
                                           expected_rev=1, result={"holds": []}, issues=[STOCK_ISSUE])
    before = await stored(hub, key)
    assert set(before.data) == {"checks", "issues"} and len(before.data["issues"]) == 1
    after = await modify(hub, code, key, {"op": "set_data", "path": "customer.name", "value": "Ana"})
    assert after.data == {"customer": {"name": "Ana"}}
    assert (await stored(hub, key)).data == {"customer": {"name": "Ana"}}


async def test_i13_check_write_back_requires_matching_rev(hub: Hub) -> None:
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("A", "1", 100)])
    key = session.session_key
    kw: dict[str, Any] = {"channel_code": code, "session_key": key, "check_code": "stock", "result": {"ok": True}}
    assert await sessions.write_back_check(hub, expected_rev=0, **kw) is False  # computed before the last modify
    assert await sessions.write_back_check(hub, expected_rev=2, **kw) is False  # a rev that never existed
    assert "checks" not in (await stored(hub, key)).data
    assert await sessions.write_back_check(hub, expected_rev=1, **kw) is True
    check = (await stored(hub, key)).data["checks"]["stock"]
    assert check["rev"] == 1 and check["result"] == {"ok": True} and check["at"]
    await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K")
    assert await sessions.write_back_check(hub, expected_rev=1, **kw) is False  # no longer open
    assert await sessions.write_back_check(hub, **{**kw, "session_key": "SESS-NONE"}, expected_rev=1) is False


async def test_i13_write_back_replaces_issues_of_the_same_source_only(hub: Hub) -> None:
    code = await make_channel(hub)
    key = (await open_with_items(hub, code, [("A", "1", 100)])).session_key
    for source, n in (("stock", 2), ("fraud", 1), ("stock", 1)):
        await sessions.write_back_check(hub, channel_code=code, session_key=key, check_code=source, expected_rev=1,
                                        result={}, issues=[STOCK_ISSUE] * n)
    issues = (await stored(hub, key)).data["issues"]
    assert sorted(i["source"] for i in issues) == ["fraud", "stock"]
    action = issues[-1]["context"]["actions"][0]
    assert issues[-1]["id"].startswith("ISS-") and action["id"].startswith("ACT-") and action["rev"] == 1


async def test_i14_commit_requires_freshness_only_for_the_channels_required_checks(hub: Hub) -> None:
    strict = await make_channel(hub, config={"required_checks_on_commit": ["stock"]})
    relaxed = await make_channel(hub)
    for code in (strict, relaxed):
        key = (await open_with_items(hub, code, [("A", "1", 100)], session_key=f"S-{code}")).session_key
        # A stale `loyalty` check (not required anywhere) sits on both sessions.
        await sessions.write_back_check(hub, channel_code=code, session_key=key, check_code="loyalty",
                                        expected_rev=1, result={})
        row = await stored(hub, key)
        row.data["checks"]["loyalty"]["rev"] = 0
        async with hub.transaction() as uow:
            await uow.db.execute(update(Session).where(Session.id == row.id).values(data=row.data))
    relaxed_done = await commit.commit_session(hub, channel_code=relaxed, session_key=f"S-{relaxed}",
                                               idempotency_key="K")
    assert relaxed_done.result["status"] == "committed"
    await raises("missing_check", commit.commit_session(hub, channel_code=strict, session_key=f"S-{strict}",
                                                        idempotency_key="K"))
    await sessions.write_back_check(hub, channel_code=strict, session_key=f"S-{strict}", check_code="stock",
                                    expected_rev=1, result={"holds": []})
    done = await commit.commit_session(hub, channel_code=strict, session_key=f"S-{strict}", idempotency_key="K")
    assert done.result["status"] == "committed"
    assert await count(hub, Order) == 2


async def test_modify_enqueues_the_required_checks_with_rev_and_items(hub: Hub) -> None:
    config = {"required_checks_on_commit": ["stock", "fraud"], "checks": {"fraud": {"directive_topic": "fraud.scan"}}}

    async def scan(hub: Hub, directive: Directive) -> None:  # a channel may only name topics with a handler (§13)
        return None

    hub.registry.add_handler("fraud.scan", scan)
    code = await make_channel(hub, config=config)
    session = await open_with_items(hub, code, [("A", "2", 100)])
    line = session.items[0]["line_id"]
    await modify(hub, code, session.session_key, {"op": "remove_line", "line_id": line})  # empty: holds must go
    found = await rows(hub, Directive, order_by=Directive.id)
    assert [(d.topic, d.payload["rev"], len(d.payload["items"])) for d in found] == [
        ("stock.hold", 1, 1), ("fraud.scan", 1, 1), ("stock.hold", 2, 0), ("fraud.scan", 2, 0)]
    assert found[0].payload["session_key"] == session.session_key and found[0].payload["channel_code"] == code
    assert all(d.status == "queued" and d.order_ref is None for d in found)

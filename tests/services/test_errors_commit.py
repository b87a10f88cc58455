"""One test per issue-resolution and commit error code of concepts.md §6–7, with field path and context."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from omniman_gql.models import IdempotencyKey, Order, Session, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import commit, issues, sessions
from tests.factories import make_channel, open_with_items
from tests.services.support import count, raises, rows

pytestmark = pytest.mark.anyio


async def setup(hub: Hub, **channel: Any) -> tuple[str, str, str]:
    """A channel and a session at rev 1 with one COFFEE line; returns (code, session key, line id)."""
    code = await make_channel(hub, **channel)
    session = await open_with_items(hub, code, [("COFFEE", "3", 550)])
    return code, session.session_key, session.items[0]["line_id"]


async def write_issue(hub: Hub, code: str, key: str, *, source: str = "stock", rev: int = 1,
                      ops: list[Any] | None = None, blocking: bool = True) -> tuple[str, str]:
    issue = {"code": f"{source}.problem", "blocking": blocking, "message": "only 1 left",
             "context": {"actions": [{"label": "fix", "rev": rev, "ops": [] if ops is None else ops}]}}
    assert await sessions.write_back_check(hub, channel_code=code, session_key=key, check_code=source,
                                           expected_rev=1, result={}, issues=[issue])
    (row,) = await rows(hub, Session, Session.session_key == key)
    stored = row.data["issues"][0]
    return stored["id"], stored["context"]["actions"][0]["id"]


def commit_call(hub: Hub, code: str, key: str, idem: str = "K") -> Any:
    return commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key=idem)


async def test_resolve_issue_applies_the_actions_ops_through_modify(hub: Hub) -> None:
    code, key, line = await setup(hub)
    issue_id, action_id = await write_issue(hub, code, key, ops=[{"setQty": {"lineId": line, "qty": "1"}}])
    session = await issues.resolve_issue(hub, channel_code=code, session_key=key, issue_id=issue_id,
                                         action_id=action_id)
    assert session.rev == 2 and session.items[0]["qty"] == "1" and "issues" not in session.data


async def test_error_session_not_found_on_resolve(hub: Hub) -> None:
    code, _, _ = await setup(hub)
    exc = await raises("session_not_found", issues.resolve_issue(hub, channel_code=code, session_key="SESS-NO",
                                                                 issue_id="ISS-1", action_id="ACT-1"))
    assert exc.field == ("session_key",)


async def test_error_issue_not_found_for_an_unknown_issue_id(hub: Hub) -> None:
    code, key, _ = await setup(hub)
    exc = await raises("issue_not_found", issues.resolve_issue(hub, channel_code=code, session_key=key,
                                                               issue_id="ISS-NOPE", action_id="ACT-1"))
    assert exc.field == ("issue_id",)


async def test_error_no_resolver_for_the_issues_source(hub: Hub) -> None:
    code, key, line = await setup(hub)
    issue_id, action_id = await write_issue(hub, code, key, source="fraud",
                                            ops=[{"op": "remove_line", "line_id": line}])
    exc = await raises("no_resolver", issues.resolve_issue(hub, channel_code=code, session_key=key,
                                                           issue_id=issue_id, action_id=action_id))
    assert exc.context == {"source": "fraud"}


async def test_error_action_not_found_lists_the_actions(hub: Hub) -> None:
    code, key, line = await setup(hub)
    issue_id, action_id = await write_issue(hub, code, key, ops=[{"op": "remove_line", "line_id": line}])
    exc = await raises("action_not_found", issues.resolve_issue(hub, channel_code=code, session_key=key,
                                                                issue_id=issue_id, action_id="ACT-NOPE"))
    assert exc.field == ("action_id",) and exc.context == {"actions": [action_id]}


async def test_error_stale_action_when_the_action_was_made_for_another_rev(hub: Hub) -> None:
    code, key, line = await setup(hub)
    issue_id, action_id = await write_issue(hub, code, key, rev=0, ops=[{"op": "remove_line", "line_id": line}])
    exc = await raises("stale_action", issues.resolve_issue(hub, channel_code=code, session_key=key,
                                                            issue_id=issue_id, action_id=action_id))
    assert exc.context == {"rev": 1, "action_rev": 0}


async def test_error_no_ops_for_an_action_without_ops(hub: Hub) -> None:
    code, key, _ = await setup(hub)
    issue_id, action_id = await write_issue(hub, code, key, ops=[])
    await raises("no_ops", issues.resolve_issue(hub, channel_code=code, session_key=key, issue_id=issue_id,
                                                action_id=action_id))


async def test_error_in_progress_for_a_key_recorded_in_progress(hub: Hub) -> None:
    code, key, _ = await setup(hub)
    async with hub.transaction() as uow:
        uow.db.add(IdempotencyKey(scope=f"commit:{code}", key="K", status="in_progress", session_key=key))
    exc = await raises("in_progress", commit_call(hub, code, key))
    assert exc.field == ("idempotency_key",) and exc.context == {"idempotency_key": "K"}
    assert await count(hub, Order) == 0


async def test_error_idempotency_key_reused_for_another_session(hub: Hub) -> None:
    code, key, _ = await setup(hub)
    other = (await open_with_items(hub, code, [("TEA", "1", 400)])).session_key
    first = await commit_call(hub, code, key)
    exc = await raises("idempotency_key_reused", commit_call(hub, code, other))
    assert exc.field == ("idempotency_key",) and first.result["order_ref"] not in str(exc.context)
    assert await count(hub, Order) == 1
    (still_open,) = await rows(hub, Session, Session.session_key == other)
    assert still_open.state == "open"


async def test_error_abandoned_when_committing_an_abandoned_session(hub: Hub) -> None:
    code, key, _ = await setup(hub)
    await sessions.abandon_session(hub, channel_code=code, session_key=key)
    exc = await raises("abandoned", commit_call(hub, code, key))
    assert exc.field == ("session_key",)


async def test_error_missing_check_when_a_required_check_never_ran(hub: Hub) -> None:
    code, key, _ = await setup(hub, config={"required_checks_on_commit": ["stock"]})
    exc = await raises("missing_check", commit_call(hub, code, key))
    assert exc.context == {"check": "stock"}


async def test_error_stale_check_when_the_check_is_for_another_rev(hub: Hub) -> None:
    code, key, _ = await setup(hub, config={"required_checks_on_commit": ["stock"]})
    # A check can only be written at the current rev; one left at another rev (older data, a bug elsewhere) is
    # still refused at commit rather than trusted.
    stale = {"checks": {"stock": {"rev": 0, "at": utcnow().isoformat(), "result": {}}}}
    async with hub.transaction() as uow:
        await uow.db.execute(update(Session).where(Session.session_key == key).values(data=stale))
    exc = await raises("stale_check", commit_call(hub, code, key))
    assert exc.context == {"check": "stock", "check_rev": 0, "rev": 1}


async def test_error_hold_expired_when_the_checks_holds_ran_out(hub: Hub) -> None:
    code, key, _ = await setup(hub, config={"required_checks_on_commit": ["stock"]})
    past = (utcnow() - dt.timedelta(seconds=1)).isoformat()
    await sessions.write_back_check(hub, channel_code=code, session_key=key, check_code="stock", expected_rev=1,
                                    result={"holds": [{"hold_id": "H", "expires_at": past}]})
    exc = await raises("hold_expired", commit_call(hub, code, key))
    assert exc.context["check"] == "stock" and exc.context["expired_at"] == past
    future = (utcnow() + dt.timedelta(minutes=10)).isoformat()
    await sessions.write_back_check(hub, channel_code=code, session_key=key, check_code="stock", expected_rev=1,
                                    result={"holds": [{"hold_id": "H", "expires_at": future}],
                                            "hold_expires_at": future})
    assert (await commit_call(hub, code, key)).result["status"] == "committed"


async def test_error_blocking_issues_lists_them(hub: Hub) -> None:
    code, key, line = await setup(hub)
    issue_id, _ = await write_issue(hub, code, key, ops=[{"op": "remove_line", "line_id": line}])
    exc = await raises("blocking_issues", commit_call(hub, code, key))
    assert [i["id"] for i in exc.context["issues"]] == [issue_id]
    assert await count(hub, Order) == 0


async def test_non_blocking_issues_do_not_stop_a_commit(hub: Hub) -> None:
    code, key, line = await setup(hub)
    await write_issue(hub, code, key, blocking=False, ops=[{"op": "remove_line", "line_id": line}])
    assert (await commit_call(hub, code, key)).result["status"] == "committed"


async def test_error_empty_session_and_the_key_stays_reusable(hub: Hub) -> None:
    code = await make_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code)
    await raises("empty_session", commit_call(hub, code, session.session_key))
    assert await count(hub, IdempotencyKey) == 0
    await sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                  ops=[{"op": "add_line", "sku": "A", "qty": "1", "unit_price_q": 1}])
    assert (await commit_call(hub, code, session.session_key)).result["status"] == "committed"

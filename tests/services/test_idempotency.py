"""Commit idempotency in detail: replays, reuse across sessions, failed commits, already committed sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from omniman_gql.models import Directive, IdempotencyKey, Order, OrderEvent, OrderItem, Session
from omniman_gql.runtime import Hub
from omniman_gql.services import commit, sessions
from tests.factories import make_channel, open_with_items
from tests.services.support import count, raises, rows

pytestmark = pytest.mark.anyio


async def test_replay_returns_the_same_result_and_creates_nothing(hub: Hub) -> None:
    code = await make_channel(hub, config={"post_commit_directives": ["stock.commit"]})
    key = (await open_with_items(hub, code, [("A", "2", 125)])).session_key
    first = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K")
    tables = (Order, OrderItem, OrderEvent, Directive, IdempotencyKey)
    before = [await count(hub, t) for t in tables]
    again = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K")
    assert again.replayed and again.result == first.result and again.order is not None
    assert again.order.ref == first.result["order_ref"]
    assert [await count(hub, t) for t in tables] == before == [1, 1, 1, 1, 1]
    assert first.result == {"order_ref": first.result["order_ref"], "order_id": first.result["order_id"],
                            "status": "committed", "total_q": 250, "items_count": 1}


async def test_the_same_key_in_another_channel_is_another_key(hub: Hub) -> None:
    one, two = await make_channel(hub), await make_channel(hub)
    for code in (one, two):
        key = (await open_with_items(hub, code, [("A", "1", 1)])).session_key
        outcome = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="SAME")
        assert outcome.result["status"] == "committed" and not outcome.replayed
    assert await count(hub, Order) == 2


async def test_same_key_for_a_different_session_is_idempotency_key_reused(hub: Hub) -> None:
    code = await make_channel(hub)
    first = (await open_with_items(hub, code, [("A", "1", 1)])).session_key
    second = (await open_with_items(hub, code, [("B", "1", 1)])).session_key
    await commit.commit_session(hub, channel_code=code, session_key=first, idempotency_key="K")
    exc = await raises("idempotency_key_reused",
                       commit.commit_session(hub, channel_code=code, session_key=second, idempotency_key="K"))
    assert exc.field == ("idempotency_key",)
    assert await count(hub, Order) == 1


async def test_a_failed_commit_leaves_the_key_reusable(hub: Hub) -> None:
    code = await make_channel(hub, config={"required_checks_on_commit": ["stock"]})
    key = (await open_with_items(hub, code, [("A", "1", 1)])).session_key
    await raises("missing_check", commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K"))
    assert await count(hub, IdempotencyKey) == 0  # the failure rolled the key record back with everything else
    await sessions.write_back_check(hub, channel_code=code, session_key=key, check_code="stock", expected_rev=1,
                                    result={"holds": []})
    outcome = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K")
    assert outcome.result["status"] == "committed" and not outcome.replayed


async def test_committing_a_committed_session_with_a_new_key_is_already_committed(hub: Hub) -> None:
    code = await make_channel(hub)
    key = (await open_with_items(hub, code, [("A", "1", 700)])).session_key
    first = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K1")
    second = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K2")
    assert second.replayed is False
    assert second.result == {**first.result, "status": "already_committed"}
    assert second.order is not None and second.order.ref == first.result["order_ref"]
    assert await count(hub, Order) == 1
    replay = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K2")
    assert replay.replayed and replay.result == second.result


async def test_commit_seals_the_session_and_writes_everything_in_one_go(hub: Hub) -> None:
    code = await make_channel(hub, config={"post_commit_directives": ["stock.commit", "payment.capture"]})
    session = await open_with_items(hub, code, [("A", "2.5", 333), ("B", "1", 100)])
    outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                          idempotency_key="K", actor="till-3")
    (row,) = await rows(hub, Session, Session.session_key == session.session_key)
    assert row.state == "committed" and row.committed_at is not None and row.commit_token
    (order,) = await rows(hub, Order)
    assert (order.status, order.total_q, order.items_count, order.currency) == ("new", 933, 2, "BRL")
    assert order.ref.startswith("ORD-") and len(order.ref) == len("ORD-YYYYMMDD-") + 8
    (created,) = await rows(hub, OrderEvent)
    assert (created.type, created.actor, created.payload["total_q"]) == ("created", "till-3", 933)
    topics = [d.topic for d in await rows(hub, Directive, Directive.order_ref == order.ref, order_by=Directive.id)]
    assert topics == ["stock.commit", "payment.capture"]
    assert outcome.result["order_id"] == order.id


async def test_bad_idempotency_keys_are_refused_before_anything_happens(hub: Hub) -> None:
    code = await make_channel(hub)
    key = (await open_with_items(hub, code, [("A", "1", 1)])).session_key
    for bad in ("", "   ", "K" * 201):
        exc = await raises("invalid_input", commit.commit_session(hub, channel_code=code, session_key=key,
                                                                  idempotency_key=bad))
        assert exc.field == ("idempotency_key",)


async def test_in_progress_when_a_concurrent_commit_holds_the_key(hub: Hub, backend: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers: a key is never held by a transaction still running")
    code = await make_channel(hub)
    key = (await open_with_items(hub, code, [("A", "1", 1)])).session_key
    monkeypatch.setattr(commit, "KEY_WAIT_MS", 200)
    async with hub.engine.connect() as holder:  # another process mid-commit: its key row is not committed yet
        await holder.execute(text(
            "INSERT INTO idempotency_keys (scope, key, status, session_key, result, created_at, updated_at) "
            "VALUES (:scope, 'K', 'in_progress', :key, '{}', now(), now())"), {"scope": f"commit:{code}", "key": key})
        await raises("in_progress", commit.commit_session(hub, channel_code=code, session_key=key,
                                                          idempotency_key="K"))
        await holder.rollback()  # that process died: its key is free again
    outcome = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K")
    assert outcome.result["status"] == "committed"

"""commitSession records its idempotency key with the order (on PostgreSQL in the order's own statement): the same key
record, the same answers and errors (replays, reuse, a key in progress), as recording it with an INSERT of its own
after the order."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from omniman_gql.errors import OmnimanError
from omniman_gql.infra.statements import orders as order_statements
from omniman_gql.runtime import Hub
from omniman_gql.services import commit
from omniman_gql.uow import DoneKey
from tests.factories import make_channel, open_with_items

pytestmark = pytest.mark.anyio


async def _key_record(hub: Hub, scope: str, key: str) -> tuple[Any, ...]:
    async with hub.engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT status, session_key, CAST(result AS TEXT) AS result, created_at <= updated_at AS in_order "
            "FROM idempotency_keys WHERE scope = :scope AND key = :key"), {"scope": scope, "key": key})).one()
    return row.status, row.session_key, json.loads(row.result, object_pairs_hook=list), row.in_order


async def _scenario(hub: Hub) -> list[Any]:
    """A commit, its replay, the key reused for another session, and a session committed again with a new key;
    the answers and key records, with the names that change from one run to the next made the same."""
    tag = uuid.uuid4().hex[:8]
    code = await make_channel(hub, f"{tag}-c", config={"post_commit_directives": ["stock.commit"]})
    first = await open_with_items(hub, code, [("A", "2", 125), ("B", "1.5", 3)], session_key=f"{tag}-1")
    second = await open_with_items(hub, code, [("A", "1", 1)], session_key=f"{tag}-2")
    answers: list[Any] = []
    for session, key in ((first, "K"), (first, "K"), (second, "K"), (first, "K2"), (first, "K2"), (second, "K3")):
        try:
            outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                                  idempotency_key=f"{tag}-{key}")
        except OmnimanError as exc:
            answers.append(("error", exc.code.value, exc.field, exc.context))
            continue
        result = {**outcome.result, "order_ref": "<ref>", "order_id": "<id>"}
        assert outcome.result["order_id"] == outcome.order.id and outcome.result["order_ref"] == outcome.order.ref
        stored = await _key_record(hub, f"commit:{code}", f"{tag}-{key}")
        assert dict(stored[2]) == outcome.result and stored[3]  # the record holds the answer the client got
        answers.append(("ok", outcome.replayed, result, stored[:2], [name for name, _value in stored[2]]))
    return json.loads(json.dumps(answers).replace(tag, "<tag>"))


async def test_the_key_recorded_with_the_order_is_the_key_recorded_on_its_own(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[DoneKey] = []
    done_key = commit.DoneKey

    def watched(*args: Any) -> DoneKey:
        sent.append(done_key(*args))
        return sent[-1]

    monkeypatch.setattr(commit, "DoneKey", watched)
    together = await _scenario(hub)
    # The one-pass commits of an open session (the first and last) recorded their key with the order; the key
    # reused for another open session met the key (rolled back, the long way answered); the others found no open
    # session to seal and took the long way before any order.
    assert [key.recorded for key in sent] == [True, False, True]
    monkeypatch.setattr(commit, "DoneKey", lambda *_args: None)  # the key's own INSERT, as before
    apart = await _scenario(hub)
    assert together == apart
    assert [answer[0] for answer in together] == ["ok", "ok", "error", "ok", "ok", "ok"]
    assert together[2][1] == "idempotency_key_reused" and together[3][2]["status"] == "already_committed"
    assert together[0][4] == ["order_ref", "order_id", "status", "total_q", "items_count"]


async def test_an_order_not_written_in_one_statement_records_its_key_on_its_own(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders with price overrides (or without lines) are inserted one by one: the key's own INSERT follows."""
    monkeypatch.setattr(order_statements, "in_one_statement", lambda *_args: False)
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("A", "1", 5)])
    outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                          idempotency_key="K")
    stored = await _key_record(hub, f"commit:{code}", "K")
    assert stored[:2] == ("done", session.session_key) and dict(stored[2]) == outcome.result
    again = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                        idempotency_key="K")
    assert again.replayed and again.result == outcome.result


async def test_a_key_held_by_a_running_commit_is_in_progress_from_the_orders_statement(
    hub: Hub, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order's statement waits for the key's holder, at most KEY_WAIT_MS: `in_progress`, as the key's own
    INSERT answered."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers: a key is never held by a transaction still running")
    sent: list[DoneKey] = []
    done_key = commit.DoneKey
    monkeypatch.setattr(commit, "DoneKey", lambda *args: sent.append(done_key(*args)) or sent[-1])
    monkeypatch.setattr(commit, "KEY_WAIT_MS", 200)
    code = await make_channel(hub)
    key = (await open_with_items(hub, code, [("A", "1", 1)])).session_key
    async with hub.engine.connect() as holder:
        await holder.execute(text(
            "INSERT INTO idempotency_keys (scope, key, status, session_key, result, created_at, updated_at) "
            "VALUES (:scope, 'K', 'in_progress', :key, '{}', now(), now())"), {"scope": f"commit:{code}", "key": key})
        with pytest.raises(OmnimanError) as info:
            await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="K")
        await holder.rollback()
    assert info.value.code.value == "in_progress" and info.value.field == ("idempotency_key",)
    assert [(key.sent, key.recorded) for key in sent] == [(True, None)]

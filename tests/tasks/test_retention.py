"""Retention (concepts.md §17): the purge of keys, done directives and abandoned sessions just inside and just outside
each retention, the replay of a commit whose key was purged, and idle sessions abandoned by the sweeper."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import update

from omniman_gql.errors import ErrorCode
from omniman_gql.live.pubsub import InProcessPubSub, Message
from omniman_gql.models import Directive, IdempotencyKey, Order, Session, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import channels, commit, sessions
from omniman_gql.services.events import session_topic
from omniman_gql.services.retention import abandon_idle_sessions, purge
from tasks.sweeper import retain_once
from tests.factories import make_channel, open_with_items
from tests.services.support import count, raises, rows
from tests.tasks.support import cart, directives, ecommerce, holds
from tests.tasks.test_stock_handlers import run_queued

pytestmark = pytest.mark.anyio
MINUTE = dt.timedelta(minutes=1)


async def _set(hub: Hub, model: Any, row_id: Any, **values: Any) -> None:
    async with hub.transaction() as uow:
        await uow.db.execute(update(model).where(model.id == row_id).values(**values))


async def _key(hub: Hub, key: str, created_at: dt.datetime) -> None:
    async with hub.transaction() as uow:
        uow.db.add(IdempotencyKey(scope="commit:x", key=key, status="done", session_key="S", result={},
                                  created_at=created_at, updated_at=created_at))


async def _directive(hub: Hub, status: str, updated_at: dt.datetime) -> int:
    async with hub.transaction() as uow:
        row = Directive(topic="notification.send", status=status, payload={}, updated_at=updated_at)
        uow.db.add(row)
        await uow.db.flush()
        return int(row.id or 0)


async def _session(hub: Hub, channel: str, state: str, updated_at: dt.datetime) -> str:
    session = await open_with_items(hub, channel, [("A", "1", 100)])
    if state == "abandoned":
        await sessions.abandon_session(hub, channel_code=channel, session_key=session.session_key)
    await _set(hub, Session, session.id, updated_at=updated_at)
    return session.session_key


async def test_purge_removes_only_rows_past_each_retention_and_dry_run_counts_the_same(task_hub: Hub) -> None:
    settings, now = task_hub.settings, utcnow()
    keys_edge, directives_edge, sessions_edge = (now - settings.idempotency_key_ttl, now - settings.directive_retention,
                                                 now - settings.session_retention)
    channel = await make_channel(task_hub)
    # Given, for each kind, one row just outside its retention and one just inside
    await _key(task_hub, "old", keys_edge - MINUTE)
    await _key(task_hub, "recent", keys_edge + MINUTE)
    old_done = await _directive(task_hub, "done", directives_edge - MINUTE)
    recent_done = await _directive(task_hub, "done", directives_edge + MINUTE)
    old_failed = await _directive(task_hub, "failed", directives_edge - 100 * MINUTE)  # failed: kept
    old_queued = await _directive(task_hub, "queued", directives_edge - 100 * MINUTE)
    old_abandoned = await _session(task_hub, channel, "abandoned", sessions_edge - MINUTE)
    recent_abandoned = await _session(task_hub, channel, "abandoned", sessions_edge + MINUTE)
    old_open = await _session(task_hub, channel, "open", sessions_edge - 100 * MINUTE)  # open: never purged
    expected = {"idempotency_keys": 1, "directives": 1, "sessions": 1}

    # A dry run counts what would go and deletes nothing
    assert await purge(task_hub, now=now, dry_run=True) == expected
    assert await count(task_hub, IdempotencyKey) == 2
    # The purge (one row per transaction here, to go through the batches) deletes exactly that
    assert await purge(task_hub, now=now, batch=1) == expected
    assert [k.key for k in await rows(task_hub, IdempotencyKey)] == ["recent"]
    kept = {d.id for d in await directives(task_hub, Directive.topic == "notification.send")}
    assert kept == {recent_done, old_failed, old_queued} and old_done not in kept
    left = {s.session_key for s in await rows(task_hub, Session, Session.channel_code == channel)}
    assert left == {recent_abandoned, old_open} and old_abandoned not in left
    assert await purge(task_hub, now=now) == dict.fromkeys(expected, 0)


async def test_replayed_commit_after_its_key_was_purged_answers_the_same_order(task_hub: Hub) -> None:
    channel = await make_channel(task_hub)
    session = await open_with_items(task_hub, channel, [("A", "2", 150)])
    first = await commit.commit_session(task_hub, channel_code=channel, session_key=session.session_key,
                                        idempotency_key="K-1")
    later = utcnow() + task_hub.settings.idempotency_key_ttl + MINUTE
    assert (await purge(task_hub, now=later))["idempotency_keys"] == 1
    assert await count(task_hub, IdempotencyKey) == 0

    replay = await commit.commit_session(task_hub, channel_code=channel, session_key=session.session_key,
                                         idempotency_key="K-1")

    assert replay.result["status"] == "already_committed"
    assert replay.result["order_ref"] == first.result["order_ref"]
    assert await count(task_hub, Order, Order.channel_code == channel) == 1


async def test_idle_ecommerce_cart_is_abandoned_its_holds_released_and_announced(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "5"})
    await channels.upsert_channel(task_hub, code=shop, config={"session_idle_ttl_minutes": 30})
    idle, busy = await cart(task_hub, shop, [("MUG", "2")]), await cart(task_hub, shop, [("MUG", "1")])
    await run_queued(task_hub, "stock.hold")
    now = utcnow()
    async with task_hub.transaction() as uow:
        for key, age in ((idle, 31), (busy, 29)):
            await uow.db.execute(update(Session).where(Session.channel_code == shop, Session.session_key == key)
                                 .values(updated_at=now - age * MINUTE))
    pubsub = InProcessPubSub()
    task_hub.publisher = pubsub
    heard: list[Message] = []
    async with pubsub.subscribe([session_topic(shop, idle)], heard.append):
        report = await retain_once(task_hub, now=now)
    assert report.idle_abandoned == [(shop, idle)]
    states = {s.session_key: s.state for s in await rows(task_hub, Session, Session.channel_code == shop)}
    assert states == {idle: "abandoned", busy: "open"}
    assert [m.data["state"] for m in heard] == ["abandoned"]
    (release,) = await run_queued(task_hub, "stock.release")
    assert release.status == "done"
    by_reference = {h.reference: h.status for h in await holds(task_hub)}
    assert by_reference == {f"{shop}:{idle}": "released", f"{shop}:{busy}": "active"}


async def test_channel_without_idle_ttl_never_abandons(task_hub: Hub) -> None:
    channel = await make_channel(task_hub)
    session = await open_with_items(task_hub, channel, [("A", "1", 100)])
    await _set(task_hub, Session, session.id, updated_at=utcnow() - dt.timedelta(days=3650))

    assert await abandon_idle_sessions(task_hub) == []
    (row,) = await rows(task_hub, Session, Session.channel_code == channel)
    assert row.state == "open"


async def test_idle_ttl_config_is_validated(task_hub: Hub) -> None:
    for bad in (0, -5, "30", 1.5, True, 10**9):
        error = await raises(ErrorCode.INVALID_CONFIG, channels.upsert_channel(
            task_hub, code=f"c-{uuid.uuid4().hex[:6]}", config={"session_idle_ttl_minutes": bad}))
        assert error.field == ("config", "session_idle_ttl_minutes") or \
            [e.field for e in error.errors()] == [("config", "session_idle_ttl_minutes")]


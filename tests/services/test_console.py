"""The console's use cases on each database: runChecks re-enqueues a session's checks at its rev, every channel
change (API or `channels apply`) is recorded once with who/before/after, and an idempotency key's record is found."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import col

from omniman_gql.errors import ErrorCode
from omniman_gql.models import ChannelRevision, Directive
from omniman_gql.runtime import Hub
from omniman_gql.services import channels, commit, console, provisioning, sessions
from tests.factories import make_channel, open_with_items
from tests.services.support import count, raises, rows

pytestmark = pytest.mark.anyio
CHECKED = {"required_checks_on_commit": ["stock"], "checks": {"stock": {"directive_topic": "stock.hold"}}}


async def test_run_checks_enqueues_the_checks_again_at_the_same_rev(hub: Hub) -> None:
    code = await make_channel(hub, config=CHECKED)
    session = await open_with_items(hub, code, [("COFFEE", "1", 550)])
    of_session = (col(Directive.topic) == "stock.hold",)
    before = [d for d in await rows(hub, Directive, *of_session) if d.payload["session_key"] == session.session_key]
    assert len(before) == 1

    again = await console.run_checks(hub, channel_code=code, session_key=session.session_key)

    assert again.rev == session.rev == 1
    after = [d for d in await rows(hub, Directive, *of_session) if d.payload["session_key"] == session.session_key]
    assert len(after) == 2
    assert after[-1].payload == {**before[0].payload, "rev": 1, "check": "stock"}


async def test_run_checks_refuses_closed_and_missing_sessions(hub: Hub) -> None:
    code = await make_channel(hub, config=CHECKED)
    session = await open_with_items(hub, code, [("COFFEE", "1", 550)])
    await sessions.abandon_session(hub, channel_code=code, session_key=session.session_key)
    await raises(ErrorCode.ALREADY_ABANDONED, console.run_checks(hub, channel_code=code,
                                                                 session_key=session.session_key))
    await raises(ErrorCode.NOT_FOUND, console.run_checks(hub, channel_code=code, session_key="nope"))


async def test_a_channel_without_checks_enqueues_nothing(hub: Hub) -> None:
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("COFFEE", "1", 550)])
    before = await count(hub, Directive)
    await console.run_checks(hub, channel_code=code, session_key=session.session_key)
    assert await count(hub, Directive) == before


async def test_every_change_is_recorded_once_with_who_before_and_after(hub: Hub) -> None:
    code = f"pos-{uuid.uuid4().hex[:6]}"
    await channels.upsert_channel(hub, code=code, name="Counter", actor="ana")
    await channels.upsert_channel(hub, code=code, config={"icon": "till"}, actor="bruno")
    await channels.upsert_channel(hub, code=code, config={"icon": "till"}, actor="carla")  # no change: no entry
    await raises(ErrorCode.INVALID_CONFIG, channels.upsert_channel(hub, code=code, config={"nope": 1}, actor="dan"))
    await provisioning.apply_channels(hub, [{"code": code, "name": "Front counter"}], actor="cli: channels apply x")

    history = await console.channel_history(hub, channel_code=code)
    assert [(r.actor, r.before.get("name"), r.after["name"]) for r in history] == [
        ("cli: channels apply x", "Counter", "Front counter"), ("bruno", "Counter", "Counter"),
        ("ana", None, "Counter")]
    assert history[2].before == {}
    assert (history[1].before["config"], history[1].after["config"]) == ({}, {"icon": "till"})
    assert history[0].after == {"name": "Front counter", "pricing_policy": "internal", "edit_policy": "open",
                                "currency": history[0].after["currency"], "display_order": 0, "is_active": True,
                                "config": {"icon": "till"}}
    assert [r.actor for r in await console.channel_history(hub, channel_code=code, first=1)] == [
        "cli: channels apply x"]
    assert await count(hub, ChannelRevision, col(ChannelRevision.actor) == "dan") == 0
    await raises(ErrorCode.INVALID_INPUT, console.channel_history(hub, channel_code=code, first=101))


async def test_an_idempotency_keys_record(hub: Hub) -> None:
    code = await make_channel(hub)
    session = await open_with_items(hub, code, [("COFFEE", "1", 550)])
    outcome = await commit.commit_session(hub, channel_code=code, session_key=session.session_key,
                                          idempotency_key="KEY-1")

    info = await console.idempotency_key_info(hub, channel_code=code, key="KEY-1")
    assert info is not None and outcome.order is not None
    assert (info.key, info.status, info.order_ref, info.session_key) == (
        "KEY-1", "done", outcome.order.ref, session.session_key)
    assert (info.expires_at - info.created_at).total_seconds() == 72 * 3600
    assert await console.idempotency_key_info(hub, channel_code=code, key="KEY-2") is None
    other = await make_channel(hub)
    assert await console.idempotency_key_info(hub, channel_code=other, key="KEY-1") is None  # keys are per channel
    await raises(ErrorCode.NOT_FOUND, console.idempotency_key_info(hub, channel_code="nowhere", key="KEY-1"))

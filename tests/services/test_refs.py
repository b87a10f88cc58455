"""Refs against real databases: the unique index decides concurrent attaches, tickets are gap-free under concurrent
commits, business days scope both, and commit, abandon and import move or end refs."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest

from omniman_gql.domain.refs import business_day
from omniman_gql.errors import OmnimanError
from omniman_gql.models import Order, Ref, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import channels, commit, orders, refs, sessions
from omniman_gql.settings import Settings
from tests.factories import make_channel, open_with_items
from tests.services.support import count, raises, rows

pytestmark = pytest.mark.anyio


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    """A pool of 5 (+20 overflow) connections: many transactions really run in parallel, the rest queue."""
    racing = Hub.create(Settings(database_url=database_url, redis_url=None, database_pool_size=5))
    try:
        yield racing
    finally:
        await racing.dispose()


async def race(calls: list[Awaitable[Any]]) -> tuple[list[Any], list[OmnimanError]]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, OmnimanError)]
    if unexpected:
        raise unexpected[0]
    return ([r for r in results if not isinstance(r, BaseException)],
            [r for r in results if isinstance(r, OmnimanError)])


def other_day_zone() -> str:
    """A timezone whose date now differs from UTC's (UTC+14 or UTC-12: one of them always does)."""
    now = utcnow()
    today = business_day({}, now)
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):
        if business_day({"business_day": {"timezone": zone}}, now) != today:
            return zone
    raise AssertionError("no timezone with another date")


async def open_sessions(hub: Hub, code: str, n: int) -> list[str]:
    return [(await open_with_items(hub, code, [("COFFEE", "1", 500)])).session_key for _ in range(n)]


async def test_50_concurrent_attaches_of_one_table_one_wins_the_rest_name_the_holder(hub: Hub) -> None:
    code = await make_channel(hub, config={"business_day": {"timezone": "UTC"}})
    keys = await open_sessions(hub, code, 50)
    done, errors = await race([refs.attach_ref(hub, channel_code=code, type_code="TABLE", value=" 5 ",
                                               session_key=key) for key in keys])
    assert len(done) == 1 and len(errors) == 49
    winner = done[0].session_key
    assert Counter(e.code.value for e in errors) == {"ref_taken": 49}
    assert {(e.context["holder"], e.context["session_key"]) for e in errors} == {("session", winner)}
    assert await count(hub, Ref, Ref.channel_code == code, Ref.is_active) == 1
    # Attaching what the holder has already answers its ref; another channel has its own table 5.
    again = await refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="5", session_key=winner)
    assert again.id == done[0].id
    other = await make_channel(hub)
    (elsewhere,) = await open_sessions(hub, other, 1)
    assert (await refs.attach_ref(hub, channel_code=other, type_code="TABLE", value="5",
                                  session_key=elsewhere)).value == "5"
    # Another business day (the channel's day now starts in another timezone): table 5 is free again.
    await channels.upsert_channel(hub, code=code, config={"business_day": {"timezone": other_day_zone()}})
    attached = await refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="5", session_key=keys[-1]
                                     if keys[-1] != winner else keys[0])
    assert attached.scope_key != done[0].scope_key


async def test_200_concurrent_commits_get_tickets_001_to_200_and_the_next_day_starts_again(hub: Hub) -> None:
    code = await make_channel(hub, config={"ticket": {"ref_type": "TICKET", "width": 3},
                                           "business_day": {"timezone": "UTC", "starts_at": "00:00"}})
    keys = await open_sessions(hub, code, 200)
    done, errors = await race([commit.commit_session(hub, channel_code=code, session_key=key,
                                                     idempotency_key=f"k-{key}") for key in keys])
    assert errors == [] and len(done) == 200
    made = await rows(hub, Order, Order.channel_code == code)
    tickets = sorted(order.snapshot["ticket"] for order in made)
    assert tickets == [f"{n:03d}" for n in range(1, 201)]
    held = await rows(hub, Ref, Ref.channel_code == code, Ref.ref_type == "TICKET", Ref.is_active)
    assert sorted((ref.value, ref.order_ref) for ref in held) == sorted(
        (order.snapshot["ticket"], order.ref) for order in made)
    await channels.upsert_channel(hub, code=code, config={"business_day": {"timezone": other_day_zone()}})
    (key,) = await open_sessions(hub, code, 1)
    next_day = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="next-day")
    assert next_day.order.snapshot["ticket"] == "001"


async def test_resolve_finds_the_open_tab_then_the_order_and_never_creates(hub: Hub) -> None:
    await refs.apply_ref_types(hub, [{"code": "PAGER", "label": "Pager", "target": "both", "scope": "business_day",
                                      "copy_to_order": True}])
    code = await make_channel(hub)
    assert await refs.resolve_ref(hub, channel_code=code, type_code="PAGER", value="7") is None
    assert await count(hub, Ref, Ref.channel_code == code) == 0
    (key,) = await open_sessions(hub, code, 1)
    await refs.attach_ref(hub, channel_code=code, type_code="PAGER", value="7", session_key=key)
    await refs.attach_ref(hub, channel_code=code, type_code="TAB", value="ana", session_key=key)
    open_tab = await refs.resolve_ref(hub, channel_code=code, type_code="TAB", value="Ana")
    assert (open_tab.session_key, open_tab.order_ref) == (key, None)
    outcome = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="k")
    pager = await refs.resolve_ref(hub, channel_code=code, type_code="PAGER", value="7")
    assert pager.order_ref == outcome.order.ref
    assert await refs.resolve_ref(hub, channel_code=code, type_code="TAB", value="ANA") is None  # expired on close
    assert [ref.ref_type for ref in (await refs.refs_for_orders(hub, [outcome.order.ref]))[outcome.order.ref]] == [
        "PAGER"]
    assert await count(hub, Ref, Ref.channel_code == code) == 2


async def test_abandon_ends_expiring_refs_and_import_carries_an_external_ref(hub: Hub) -> None:
    code = await make_channel(hub)
    (key,) = await open_sessions(hub, code, 1)
    await refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="9", session_key=key)
    await sessions.abandon_session(hub, channel_code=code, session_key=key)
    assert await refs.resolve_ref(hub, channel_code=code, type_code="TABLE", value="9") is None
    (fresh,) = await open_sessions(hub, code, 1)
    await refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="9", session_key=fresh)
    order, _ = await orders.import_order(hub, channel_code=code, external_ref="ifood-123",
                                         items=[{"sku": "COFFEE", "qty": "1", "unit_price_q": 500}])
    found = await refs.resolve_ref(hub, channel_code=code, type_code="EXTERNAL", value="IFOOD-123")
    assert found is not None and found.order_ref == order.ref


async def test_bad_attaches_are_refused_with_their_codes(hub: Hub) -> None:
    code = await make_channel(hub)
    (key,) = await open_sessions(hub, code, 1)
    await raises("invalid_ref_type", refs.attach_ref(hub, channel_code=code, type_code="NOPE", value="1",
                                                     session_key=key))
    await raises("invalid_ref_target", refs.attach_ref(hub, channel_code=code, type_code="TICKET", value="1",
                                                       session_key=key))
    await raises("invalid_input", refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="1"))
    await raises("invalid_input", refs.attach_ref(hub, channel_code=code, type_code="TABLE", value=" ",
                                                  session_key=key))
    await raises("invalid_input", refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="x" * 201,
                                                  session_key=key))
    await raises("not_found", refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="1",
                                              session_key="missing"))
    outcome = await commit.commit_session(hub, channel_code=code, session_key=key, idempotency_key="k")
    await raises("invalid_ref_target", refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="1",
                                                       session_key=key))
    await raises("invalid_ref_target", refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="1",
                                                       order_ref=outcome.order.ref))
    await raises("not_found", refs.attach_ref(hub, channel_code=code, type_code="EXTERNAL", value="1",
                                              order_ref="ORD-NOPE"))
    await raises("not_found", refs.detach_ref(hub, channel_code=code, type_code="TABLE", value="1"))
    await raises("invalid_ref_type", refs.resolve_ref(hub, channel_code=code, type_code="NOPE", value="1"))


async def test_detach_frees_the_value(hub: Hub) -> None:
    code = await make_channel(hub)
    first, second = await open_sessions(hub, code, 2)
    await refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="3", session_key=first)
    await raises("ref_taken", refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="3",
                                              session_key=second))
    detached = await refs.detach_ref(hub, channel_code=code, type_code="TABLE", value="3")
    assert detached.is_active is False
    assert (await refs.attach_ref(hub, channel_code=code, type_code="TABLE", value="3",
                                  session_key=second)).session_key == second


async def test_applying_ref_types_is_all_or_nothing(hub: Hub) -> None:
    error = await raises("invalid_input", refs.apply_ref_types(hub, [
        {"code": "GOOD", "label": "Good"}, {"code": "bad code"}, {"code": "X", "scope": "galaxy"}]))
    assert [e.field for e in error.errors()] == [("ref_types", 1, "code"), ("ref_types", 2, "scope")]
    assert "GOOD" not in {spec.code for spec in await refs.list_ref_types(hub)}
    await refs.apply_ref_types(hub, [{"code": "GOOD", "label": "Good", "target": "order"}])
    assert {"GOOD", "TABLE", "TAB", "TICKET", "EXTERNAL"} <= {spec.code for spec in await refs.list_ref_types(hub)}

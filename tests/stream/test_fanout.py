"""Subscription fan-out: one execution per event and distinct (document, variables, visibility, cursor); JSON once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import pytest
import strawberry

from schema.fanout import MessageEncoder, SharingExecutor

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class FakePrincipal:
    role: str
    channels: tuple[str, ...] | None = None


@dataclass
class Ctx:
    principal: FakePrincipal
    executions: list[str] = field(default_factory=list)


@strawberry.type
class Tick:
    cursor: str
    number: int
    shared_results: strawberry.Private[dict[Any, Any] | None] = None

    @strawberry.field
    def label(self, info: strawberry.Info, prefix: str = "") -> str:
        info.context.executions.append(f"{prefix}{self.number}")  # counts executions of the selection
        return f"{prefix}{self.number}"


@strawberry.type
class Query:
    ping: str = "pong"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, info: strawberry.Info) -> AsyncGenerator[Tick, None]:
        for tick in info.context.feed:
            yield tick


SCHEMA = strawberry.Schema(query=Query, subscription=Subscription, execution_context_class=SharingExecutor)
QUERY = "subscription($p: String!) { ticks { cursor label(prefix: $p) } }"


@dataclass
class FeedCtx(Ctx):
    feed: list[Tick] = field(default_factory=list)


async def results(ctx: FeedCtx, prefix: str) -> list[dict[str, Any]]:
    stream = await SCHEMA.subscribe(QUERY, variable_values={"p": prefix}, context_value=ctx)
    out = []
    async for result in stream:  # type: ignore[union-attr]
        assert result.errors is None, result.errors
        out.append(result.data)
    return out


def events(shared: list[dict[Any, Any]], cursors: list[str] | None = None) -> list[Tick]:
    return [Tick(cursor=(cursors or ["c"] * len(shared))[i], number=i, shared_results=s) for i, s in enumerate(shared)]


async def test_same_selection_runs_once_per_event_for_every_subscriber() -> None:
    shared: list[dict[Any, Any]] = [{}, {}]
    counted: list[str] = []
    contexts = [FeedCtx(principal=FakePrincipal("kitchen"), executions=counted, feed=events(shared)) for _ in range(5)]

    got = await asyncio.gather(*(results(ctx, "#") for ctx in contexts))

    assert all(r == [{"ticks": {"cursor": "c", "label": "#0"}}, {"ticks": {"cursor": "c", "label": "#1"}}] for r in got)
    assert sorted(counted) == ["#0", "#1"]  # 5 subscribers, 2 events: 2 executions


async def test_other_variables_visibility_or_cursor_get_their_own_execution() -> None:
    shared: list[dict[Any, Any]] = [{}]
    counted: list[str] = []

    def ctx(role: str, channels: tuple[str, ...] | None = None, cursor: str = "c") -> FeedCtx:
        return FeedCtx(principal=FakePrincipal(role, channels), executions=counted, feed=events(shared, [cursor]))

    got = await asyncio.gather(
        results(ctx("kitchen"), "#"), results(ctx("kitchen"), "#"),  # shared
        results(ctx("kitchen"), "!"),  # other variables
        results(ctx("kitchen", ("pos",)), "#"),  # other channel scope
        results(ctx("admin"), "#"),  # other role
        results(ctx("kitchen", cursor="d"), "#"),  # another position in the stream
    )

    assert [r[0]["ticks"]["label"] for r in got] == ["#0", "#0", "!0", "#0", "#0", "#0"]
    assert got[5][0]["ticks"]["cursor"] == "d"
    assert sorted(counted) == ["!0", "#0", "#0", "#0", "#0"]


async def test_events_without_shared_results_run_per_subscriber() -> None:
    counted: list[str] = []
    contexts = [FeedCtx(principal=FakePrincipal("kitchen"), executions=counted,
                        feed=[Tick(cursor="c", number=7)]) for _ in range(3)]

    await asyncio.gather(*(results(ctx, "#") for ctx in contexts))

    assert counted == ["#7", "#7", "#7"]


def test_encoder_encodes_a_shared_payload_once_and_keeps_each_id() -> None:
    encoder = MessageEncoder(size=2)
    data = {"orderEvents": {"cursor": "x", "n": [1, 2]}}

    first = encoder.encode({"id": "a", "type": "next", "payload": {"data": data}})
    second = encoder.encode({"id": "b\"", "type": "next", "payload": {"data": data}})

    assert json.loads(first) == {"id": "a", "type": "next", "payload": {"data": data}}
    assert json.loads(second) == {"id": "b\"", "type": "next", "payload": {"data": data}}
    assert len(encoder._encoded) == 1
    for other in ({"x": 1}, {"y": 2}):  # bounded: old payloads are forgotten
        encoder.encode({"id": "c", "type": "next", "payload": {"data": other}})
    assert id(data) not in encoder._encoded
    errors = {"id": "e", "type": "next", "payload": {"data": None, "errors": [{"message": "boom"}]}}
    assert json.loads(encoder.encode(errors)) == errors
    assert json.loads(encoder.encode({"type": "ping"})) == {"type": "ping"}

"""Positions (cursors) and the safe horizon of the order-event log."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from sqlalchemy import text

from omniman_gql.errors import OmnimanError
from omniman_gql.live.eventlog import (
    MAX_SKIP,
    Horizon,
    Position,
    read_events,
    read_events_with_orders,
    snapshot,
    with_lines_and_channels,
    with_orders,
)
from omniman_gql.runtime import Hub
from omniman_gql.services import orders, reads
from omniman_gql.services.common import lock_order
from omniman_gql.services.events import record_event
from tests.factories import committed_order, make_channel


def test_position_round_trips_through_an_opaque_cursor() -> None:
    position = Position(floor=41, skip={44, 50})
    cursor = position.encode()
    assert "41" not in cursor and Position.decode(cursor) == position
    assert Position.decode(Position().encode()) == Position()


@pytest.mark.parametrize("cursor", ["", "x", "b2UxLg", "b2UxLjEuMA", "b2UxLi0x", "b3JkZXI6MQ", "!!!", "a" * 9000])
def test_position_refuses_what_it_did_not_make(cursor: str) -> None:
    with pytest.raises(OmnimanError) as info:
        Position.decode(cursor)
    assert (info.value.code, info.value.field) == ("invalid_input", ("after",))


def test_position_handles_late_lower_ids_and_moves_its_floor() -> None:
    position = Position(floor=10)
    position.mark(12)
    assert [position.handled(i) for i in (10, 11, 12, 13)] == [True, False, True, False]
    position.mark(11)
    position.advance(12)
    assert position == Position(floor=12)


def test_position_stays_bounded_when_the_horizon_is_stuck() -> None:
    position = Position(floor=0)
    for event_id in range(2, 2 * MAX_SKIP + 2):
        position.mark(event_id)
    assert len(position.skip) <= MAX_SKIP
    assert position.handled(2) and position.handled(2 * MAX_SKIP + 1)



@pytest.mark.anyio
async def test_horizon_passes_a_rolled_back_id_once_nothing_is_in_flight(hub: Hub) -> None:
    channel = await make_channel(hub)
    order = await committed_order(hub, channel)
    horizon = Horizon()
    with anyio.fail_after(10):  # first sight, then the proof
        while not horizon.established:
            async with snapshot(hub) as db:
                await horizon.observe(db)
            await anyio.sleep(0.01)
    start = horizon.safe
    with pytest.raises(RuntimeError):  # an event id drawn and then rolled back
        async with hub.transaction() as uow:
            locked, _ = await lock_order(uow.db, order.ref)
            await record_event(uow, locked, "custom.lost", {}, actor="test")
            raise RuntimeError("roll back")
    await orders.add_order_event(hub, ref=order.ref, type="custom.kept", payload={})
    # The proof waits for every transaction older than our own xid, anywhere in the cluster: poll, with a deadline.
    with anyio.fail_after(10):
        while True:
            async with snapshot(hub) as db:
                safe = await horizon.observe(db)
                top = (await db.execute(text("SELECT max(id) FROM order_events"))).scalar_one()
            if safe == top:
                break
            await anyio.sleep(0.02)
    assert safe == top > start and not horizon.pending


@pytest.mark.anyio
async def test_lines_and_channels_come_with_the_events_as_the_loaders_read_them(hub: Hub) -> None:
    first, second = await make_channel(hub), await make_channel(hub)
    two_lines = await committed_order(hub, first, [("COFFEE", "2", 550), ("CROISSANT", "1", 400)])
    one_line = await committed_order(hub, second)
    await orders.add_order_event(hub, ref=two_lines.ref, type="custom.noted", payload={})
    async with snapshot(hub) as db:
        events = [e for e in await read_events(db, None, above=0, limit=10_000)
                  if e.order_id in (two_lines.id, one_line.id)]
        logged = await with_lines_and_channels(db, await with_orders(db, events))
    assert [(item.order.ref, item.event.type) for item in logged] == [
        (two_lines.ref, "created"), (one_line.ref, "created"), (two_lines.ref, "custom.noted")]
    lines = await reads.items_for_orders(hub, [two_lines.id, one_line.id])
    channels = await reads.channels_by_codes(hub, [first, second])
    for item in logged:
        assert item.items is not None and item.channel is not None
        assert [tuple(row) for row in item.items] == [tuple(row) for row in lines[item.order.id]]
        assert (item.channel.code, item.channel.name) == (channels[item.order.channel_code].code,
                                                          channels[item.order.channel_code].name)
    assert [row.sku for row in logged[0].items or ()] == ["COFFEE", "CROISSANT"]


@pytest.mark.anyio
async def test_a_tails_joined_read_gives_what_the_separate_reads_give(hub: Hub) -> None:
    first, second = await make_channel(hub), await make_channel(hub)
    two_lines = await committed_order(hub, first, [("COFFEE", "2", 550), ("CROISSANT", "1", 400)])
    await committed_order(hub, second)
    await orders.add_order_event(hub, ref=two_lines.ref, type="custom.noted", payload={})
    for channels in (None, [first]):
        async with snapshot(hub) as db:
            separate = await with_lines_and_channels(db, await with_orders(
                db, await read_events(db, channels, above=0, limit=10_000)))
        async with snapshot(hub) as db:
            rows = await read_events_with_orders(db, channels, above=0, limit=10_000)
            known_orders = {order.id: order for _, order, _ in rows}
            known_channels = {channel.code: channel for _, _, channel in rows if channel is not None}
            joined = await with_lines_and_channels(
                db, await with_orders(db, [event for event, _, _ in rows], known_orders), known_channels)

        def seen(logged: list[Any]) -> list[tuple[Any, ...]]:
            return [(item.id, item.event.type, item.order.ref, item.order.status, item.status,
                     [tuple(row) for row in item.items or ()], item.channel.code if item.channel else None)
                    for item in logged]

        assert seen(joined) == seen(separate) and len(joined) >= 2

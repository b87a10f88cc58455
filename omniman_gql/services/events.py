"""Order events (the append-only audit log) and the live messages announcing them after commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..models import OrderEvent, table_of, utcnow
from ..uow import UnitOfWork


def order_events_topic(channel_code: str) -> str:
    return f"order-events:{channel_code}"


def session_topic(channel_code: str, session_key: str) -> str:
    return f"session:{channel_code}:{session_key}"


async def record_events(
    uow: UnitOfWork, order: Any, events: Sequence[tuple[str, Mapping[str, Any]]], *, actor: str
) -> list[int]:
    """Append events to the order's log (one INSERT … RETURNING of plain values, no model instances) and announce
    each one once the transaction commits. Returns the new events' ids."""
    now = utcnow()
    rows = [{"order_id": order.id, "channel_code": order.channel_code, "type": type_, "actor": actor,
             "payload": dict(payload), "created_at": now} for type_, payload in events]
    event_ids = await uow.rows.insert_returning_ids(_EVENTS, rows)
    announce_events(uow, order, event_ids, events)
    return event_ids


def announce_events(uow: UnitOfWork, order: Any, event_ids: list[int],
                    events: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Tell `orderEvents` subscribers about events just written (sent after commit)."""
    topic = order_events_topic(order.channel_code)
    for event_id, (type_, _payload) in zip(event_ids, events, strict=True):
        uow.publish(topic, {
            "event_id": event_id, "order_id": order.id, "order_ref": order.ref, "type": type_,
            "channel_code": order.channel_code, "status": order.status,
        })


async def record_event(uow: UnitOfWork, order: Any, type_: str, payload: Mapping[str, Any], *, actor: str) -> int:
    return (await record_events(uow, order, [(type_, payload)], actor=actor))[0]


_EVENTS = table_of(OrderEvent)


def announce_session(uow: UnitOfWork, session: Any) -> None:
    """Tell `sessionChanged` subscribers this session has a new state (sent after commit)."""
    uow.publish(session_topic(session.channel_code, session.session_key), {
        "channel_code": session.channel_code, "session_key": session.session_key, "rev": session.rev,
        "state": session.state,
    })

"""Order events (the append-only audit log) and the live messages announcing them after commit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..db import UnitOfWork, insert_returning_ids
from ..models import Order, OrderEvent, Session, utcnow


def order_events_topic(channel_code: str) -> str:
    return f"order-events:{channel_code}"


def session_topic(channel_code: str, session_key: str) -> str:
    return f"session:{channel_code}:{session_key}"


async def record_events(
    uow: UnitOfWork, order: Order, events: list[tuple[str, Mapping[str, Any]]], *, actor: str
) -> list[OrderEvent]:
    """Append events to the order's log (one INSERT … RETURNING) and announce each one once the transaction
    commits."""
    now = utcnow()
    rows = [
        OrderEvent(order_id=order.id, channel_code=order.channel_code, type=type_, actor=actor,
                   payload=dict(payload), created_at=now)
        for type_, payload in events
    ]
    await insert_returning_ids(uow.db, rows)
    for row in rows:
        uow.publish(order_events_topic(order.channel_code), {
            "event_id": row.id, "order_id": order.id, "order_ref": order.ref, "type": row.type,
            "channel_code": order.channel_code, "status": order.status,
        })
    return rows


async def record_event(
    uow: UnitOfWork, order: Order, type_: str, payload: Mapping[str, Any], *, actor: str
) -> OrderEvent:
    return (await record_events(uow, order, [(type_, payload)], actor=actor))[0]


def announce_session(uow: UnitOfWork, session: Session) -> None:
    """Tell `sessionChanged` subscribers this session has a new state (sent after commit)."""
    uow.publish(session_topic(session.channel_code, session.session_key), {
        "channel_code": session.channel_code, "session_key": session.session_key, "rev": session.rev,
        "state": session.state,
    })

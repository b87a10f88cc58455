"""The transactional outbox: directive rows written inside the caller's transaction, dispatched after commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..models import Directive, table_of, utcnow
from ..uow import UnitOfWork


async def enqueue(
    uow: UnitOfWork,
    topic: str,
    payload: Mapping[str, Any],
    *,
    order_ref: str | None = None,
    available_at: dt.datetime | None = None,
) -> Directive:
    """Write one queued directive; its id is handed to the dispatcher once the transaction commits."""
    return (await enqueue_many(uow, [(topic, payload)], order_ref=order_ref, available_at=available_at))[0]


async def enqueue_many(
    uow: UnitOfWork,
    items: list[tuple[str, Mapping[str, Any]]],
    *,
    order_ref: str | None = None,
    available_at: dt.datetime | None = None,
) -> list[Directive]:
    """Write several directives with one INSERT … RETURNING (no ORM flush: the instances stay out of the session)."""
    if not items:
        return []
    now = utcnow()
    rows = [
        Directive(topic=topic, payload=dict(payload), order_ref=order_ref, available_at=available_at or now,
                  created_at=now, updated_at=now)
        for topic, payload in items
    ]
    ids = await uow.rows.insert_returning_ids(_TABLE, [{name: getattr(row, name) for name in _COLUMNS} for row in rows])
    for row, new_id in zip(rows, ids, strict=True):
        row.id = new_id
    uow.directive_ids.extend(row.id for row in rows if row.id is not None and row.available_at <= now)
    return rows


_TABLE = table_of(Directive)
_COLUMNS = [column.name for column in _TABLE.columns if column.name != "id"]

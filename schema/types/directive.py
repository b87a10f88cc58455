"""Directive: one asynchronous side effect (stock hold, payment capture, notification), as operators see it."""

import datetime as dt
from enum import Enum
from typing import Self

import strawberry

from omniman_gql import models

from ..scalars import JSON
from .node import Node


@strawberry.enum(description="Where a directive is in its life: queued → running → done | failed.")
class DirectiveStatus(Enum):
    QUEUED = strawberry.enum_value("queued", description="Waiting to run (possibly deferred to `availableAt`).")
    RUNNING = strawberry.enum_value("running", description="Claimed by a worker.")
    DONE = strawberry.enum_value("done", description="Finished successfully.")
    FAILED = strawberry.enum_value("failed", description="Gave up after the last attempt; `retryDirective` re-runs it.")


@strawberry.type(description="A unit of asynchronous side-effect work, written in the same transaction as its cause.")
class Directive(Node):
    row_id: strawberry.Private[int]
    topic: str = strawberry.field(description="What to do, `area.verb`: `stock.hold`, `payment.capture`…")
    status: DirectiveStatus = strawberry.field(description="Where it is in its life.")
    payload: JSON = strawberry.field(description="The handler's input (snake_case keys).")
    order_ref: str | None = strawberry.field(description="The order that caused it, if any.")
    attempts: int = strawberry.field(description="How many times it has been tried.")
    available_at: dt.datetime = strawberry.field(description="Not run before this time (retry backoff, deferral).")
    last_error: str = strawberry.field(description="The last failure's reason; empty if none.")
    created_at: dt.datetime = strawberry.field(description="When it was written.")
    started_at: dt.datetime | None = strawberry.field(description="When the current or last attempt started.")
    updated_at: dt.datetime = strawberry.field(description="Last change.")

    def node_key(self) -> tuple[str, ...]:
        return (str(self.row_id),)

    @classmethod
    def from_model(cls, row: models.Directive) -> Self:
        return cls(row_id=row.id, topic=row.topic, status=DirectiveStatus(row.status),
                   payload=row.payload, order_ref=row.order_ref, attempts=row.attempts,
                   available_at=row.available_at, last_error=row.last_error, created_at=row.created_at,
                   started_at=row.started_at, updated_at=row.updated_at)

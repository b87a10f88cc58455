"""Fulfillment: a split or partial delivery of an order's lines."""

import datetime as dt
import decimal
from enum import Enum
from typing import Self

import strawberry

from omniman_gql import models

from .node import Node


@strawberry.enum(description="Where a fulfillment is: pending → in_progress → shipped → delivered, or cancelled.")
class FulfillmentStatus(Enum):
    PENDING = strawberry.enum_value("pending", description="Created, not started.")
    IN_PROGRESS = strawberry.enum_value("in_progress", description="Being picked or packed.")
    SHIPPED = strawberry.enum_value("shipped", description="Handed to the carrier.")
    DELIVERED = strawberry.enum_value("delivered", description="Received (final).")
    CANCELLED = strawberry.enum_value("cancelled", description="Called off (final); its quantities are free again.")


@strawberry.type(description="A quantity of one order line in a fulfillment.")
class FulfillmentLine:
    line_id: str = strawberry.field(description="The order line (`OrderItem.lineId`).")
    qty: decimal.Decimal = strawberry.field(description="Quantity of that line in this fulfillment.")


@strawberry.type(description="A split or partial delivery of an order, with carrier and tracking details.")
class Fulfillment(Node):
    ref: str = strawberry.field(description="Fulfillment reference, `FUL-…`.")
    status: FulfillmentStatus = strawberry.field(description="Where the fulfillment is.")
    carrier: str = strawberry.field(description="Carrier name; empty if not set.")
    tracking_code: str = strawberry.field(description="Carrier's tracking code; empty if not set.")
    tracking_url: str = strawberry.field(description="Tracking page; empty if not set.")
    notes: str = strawberry.field(description="Free-form notes.")
    items: list[FulfillmentLine] = strawberry.field(description="The lines and quantities it covers.")
    created_at: dt.datetime = strawberry.field(description="When it was created.")
    updated_at: dt.datetime = strawberry.field(description="Last change.")
    shipped_at: dt.datetime | None = strawberry.field(description="When it first became `shipped`.")
    delivered_at: dt.datetime | None = strawberry.field(description="When it became `delivered`.")

    def node_key(self) -> tuple[str, ...]:
        return (self.ref,)

    @classmethod
    def from_model(cls, row: models.Fulfillment, lines: list[models.FulfillmentItem]) -> Self:
        return cls(ref=row.ref, status=FulfillmentStatus(row.status), carrier=row.carrier,
                   tracking_code=row.tracking_code, tracking_url=row.tracking_url, notes=row.notes,
                   items=[FulfillmentLine(line_id=line.line_id, qty=line.qty) for line in lines],
                   created_at=row.created_at, updated_at=row.updated_at, shipped_at=row.shipped_at,
                   delivered_at=row.delivered_at)

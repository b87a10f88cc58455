"""Inputs of order mutations: import, transitions, custom events, fulfillments."""

import decimal
from typing import Any

import strawberry

from ..scalars import JSON
from ..types.fulfillment import FulfillmentStatus


@strawberry.input(description="A line of an imported order.")
class ImportLineInput:
    sku: str = strawberry.field(description="Stock keeping unit.")
    qty: decimal.Decimal = strawberry.field(description="Quantity > 0.")
    unit_price_q: int | None = strawberry.field(
        default=None, description="Unit price in minor units (required in EXTERNAL channels).")
    name: str | None = strawberry.field(default=None, description="Line name.")
    meta: JSON | None = strawberry.field(default=None, description="Free-form line metadata.")

    def to_line(self) -> dict[str, Any]:
        return {"sku": self.sku, "qty": self.qty, "unit_price_q": self.unit_price_q, "name": self.name,
                "meta": self.meta}


@strawberry.input(description="A finished order from a platform (iFood, Rappi…): session and order in one step.")
class ImportOrderInput:
    channel_code: str = strawberry.field(description="The channel.")
    external_ref: str = strawberry.field(description="The platform's reference; importing it again returns the "
                                                     "first order.")
    items: list[ImportLineInput] = strawberry.field(description="The lines (at least one).")
    data: JSON | None = strawberry.field(default=None, description="Business data (customer, delivery, payment…).")
    handle_type: str | None = strawberry.field(default=None, description="Business handle type.")
    handle_ref: str | None = strawberry.field(default=None, description="Business handle reference.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"channel_code": self.channel_code, "external_ref": self.external_ref,
                "items": [line.to_line() for line in self.items], "data": self.data,
                "handle_type": self.handle_type, "handle_ref": self.handle_ref}


@strawberry.input(description="Move an order to another status of its channel's flow.")
class TransitionOrderInput:
    ref: str = strawberry.field(description="The order.")
    status: str = strawberry.field(description="The next status (see `Order.allowedTransitions`).")

    def to_kwargs(self) -> dict[str, Any]:
        return {"ref": self.ref, "status": self.status}


@strawberry.input(description="Append a custom event to an order's log.")
class AddOrderEventInput:
    ref: str = strawberry.field(description="The order.")
    type: str = strawberry.field(description="`custom.<name>`, at most 64 characters.")
    payload: JSON | None = strawberry.field(default=None, description="Details (a JSON object).")

    def to_kwargs(self) -> dict[str, Any]:
        return {"ref": self.ref, "type": self.type, "payload": self.payload}


@strawberry.input(description="A quantity of one order line to fulfil.")
class FulfillmentLineInput:
    line_id: str = strawberry.field(description="The order line (`OrderItem.lineId`).")
    qty: decimal.Decimal = strawberry.field(description="Quantity > 0; never more than is left to fulfil.")


@strawberry.input(description="Start a fulfillment (split or partial delivery) of some of an order's lines.")
class CreateFulfillmentInput:
    order_ref: str = strawberry.field(description="The order.")
    items: list[FulfillmentLineInput] = strawberry.field(description="The lines and quantities (at least one).")
    carrier: str | None = strawberry.field(default=None, description="Carrier name.")
    tracking_code: str | None = strawberry.field(default=None, description="Carrier's tracking code.")
    tracking_url: str | None = strawberry.field(default=None, description="Tracking page.")
    notes: str | None = strawberry.field(default=None, description="Free-form notes.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"ref": self.order_ref, "items": [{"line_id": i.line_id, "qty": i.qty} for i in self.items],
                "carrier": self.carrier, "tracking_code": self.tracking_code, "tracking_url": self.tracking_url,
                "notes": self.notes}


@strawberry.input(description="Move a fulfillment along its flow and/or set its carrier and tracking details.")
class UpdateFulfillmentInput:
    ref: str = strawberry.field(description="The fulfillment, `FUL-…`.")
    status: FulfillmentStatus | None = strawberry.field(default=None, description="The next status, if moving.")
    carrier: str | None = strawberry.field(default=None, description="Carrier name.")
    tracking_code: str | None = strawberry.field(default=None, description="Carrier's tracking code.")
    tracking_url: str | None = strawberry.field(default=None, description="Tracking page.")
    notes: str | None = strawberry.field(default=None, description="Free-form notes.")

    def to_kwargs(self) -> dict[str, Any]:
        return {"fulfillment_ref": self.ref, "status": self.status.value if self.status else None,
                "carrier": self.carrier, "tracking_code": self.tracking_code, "tracking_url": self.tracking_url,
                "notes": self.notes}

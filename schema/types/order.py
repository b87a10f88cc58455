"""Order: the immutable snapshot made at commit; only its status moves. Relations resolve through dataloaders."""

import datetime as dt
import decimal
from typing import Self

import strawberry

from omniman_gql import models
from omniman_gql.domain.flow import OrderFlow
from omniman_gql.services.payments import payment_from_snapshot

from ..context import Info
from ..permissions import Action, authorize
from ..scalars import JSON
from .channel import Channel
from .customer import Customer
from .directive import Directive
from .fulfillment import Fulfillment
from .node import Node
from .payment import OrderPayment


@strawberry.type(description="One line of an order, as sealed at commit.")
class OrderItem:
    line_id: str = strawberry.field(description="Line id, `L-…` (the session line it came from).")
    sku: str = strawberry.field(description="Stock keeping unit.")
    name: str = strawberry.field(description="Line name (the SKU when none was given).")
    qty: decimal.Decimal = strawberry.field(description="Quantity.")
    unit_price_q: int = strawberry.field(description="Unit price in minor units.")
    line_total_q: int = strawberry.field(description="round_half_up(qty × unitPriceQ), in minor units.")
    meta: JSON = strawberry.field(description="The line's free-form metadata.")

    @classmethod
    def from_model(cls, row: models.OrderItem) -> Self:
        return cls(line_id=row.line_id, sku=row.sku, name=row.name, qty=row.qty, unit_price_q=row.unit_price_q,
                   line_total_q=row.line_total_q, meta=row.meta or {})


@strawberry.type(description="An entry of an order's append-only audit log.")
class OrderEvent:
    id: strawberry.ID = strawberry.field(description="Event id; ascending in the order of events.")
    type: str = strawberry.field(description="`created`, `status_changed`, `payment.captured`, `custom.*`…")
    actor: str = strawberry.field(description="Who caused it (a token's name, `system`…).")
    payload: JSON = strawberry.field(description="Details, with snake_case keys (e.g. `old_status`, `new_status`).")
    created_at: dt.datetime = strawberry.field(description="When it happened.")

    @classmethod
    def from_model(cls, row: models.OrderEvent) -> Self:
        return cls(id=strawberry.ID(str(row.id)), type=row.type, actor=row.actor, payload=row.payload or {},
                   created_at=row.created_at)


@strawberry.type(description="An order: the immutable snapshot of a committed session. Only `status` moves.")
class Order(Node):
    order_id: strawberry.Private[int]
    customer_code: strawberry.Private[str | None]
    ref: str = strawberry.field(description="Order reference, `ORD-YYYYMMDD-XXXXXXXX`.")
    channel_code: str = strawberry.field(description="Code of the channel it came from.")
    session_key: str = strawberry.field(description="Key of the session it was committed from.")
    handle_type: str | None = strawberry.field(description="Handle type of that session (e.g. `table`).")
    handle_ref: str | None = strawberry.field(description="Handle reference of that session (e.g. `5`).")
    external_ref: str | None = strawberry.field(description="The platform's reference, for imported orders.")
    status: str = strawberry.field(description="Current status along the channel's flow (`new`, `confirmed`…).")
    currency: str = strawberry.field(description="ISO 4217 currency.")
    total_q: int = strawberry.field(description="Sum of line totals, in minor units.")
    items_count: int = strawberry.field(description="Number of lines.")
    snapshot: JSON = strawberry.field(description="What was sealed: items, data, pricing, rev… (`_v` versioned).")
    created_at: dt.datetime = strawberry.field(description="When it was created.")
    updated_at: dt.datetime = strawberry.field(description="Last change (status, events).")
    confirmed_at: dt.datetime | None = strawberry.field(description="First time it became `confirmed`.")
    processing_at: dt.datetime | None = strawberry.field(description="First time it became `processing`.")
    ready_at: dt.datetime | None = strawberry.field(description="First time it became `ready`.")
    dispatched_at: dt.datetime | None = strawberry.field(description="First time it became `dispatched`.")
    delivered_at: dt.datetime | None = strawberry.field(description="First time it became `delivered`.")
    completed_at: dt.datetime | None = strawberry.field(description="First time it became `completed`.")
    cancelled_at: dt.datetime | None = strawberry.field(description="First time it became `cancelled`.")

    def node_key(self) -> tuple[str, ...]:
        return (self.ref,)

    @classmethod
    def from_model(cls, row: models.Order) -> Self:
        assert row.id is not None
        return cls(order_id=row.id, customer_code=row.customer_code, ref=row.ref, channel_code=row.channel_code,
                   session_key=row.session_key,
                   handle_type=row.handle_type, handle_ref=row.handle_ref, external_ref=row.external_ref,
                   status=row.status, currency=row.currency, total_q=row.total_q, items_count=row.items_count,
                   snapshot=row.snapshot, created_at=row.created_at, updated_at=row.updated_at,
                   confirmed_at=row.confirmed_at, processing_at=row.processing_at, ready_at=row.ready_at,
                   dispatched_at=row.dispatched_at, delivered_at=row.delivered_at, completed_at=row.completed_at,
                   cancelled_at=row.cancelled_at)

    @strawberry.field(description="The channel it came from.")
    async def channel(self, info: Info) -> Channel:
        row = await info.context.loaders.channel_by_code.load(self.channel_code)
        assert row is not None  # a foreign key guarantees it
        return Channel.from_model(row)

    @strawberry.field(description="Its lines, in order.")
    async def items(self, info: Info) -> list[OrderItem]:
        return [OrderItem.from_model(row) for row in await info.context.loaders.items_by_order_id.load(self.order_id)]

    @strawberry.field(description="Its audit log, oldest first.")
    async def events(self, info: Info) -> list[OrderEvent]:
        rows = await info.context.loaders.events_by_order_id.load(self.order_id)
        return [OrderEvent.from_model(row) for row in rows]

    @strawberry.field(description="Its payment: status, intent, method, amounts and the last error. Moves with the "
                                  "payment directives, `attachPayment` and `refundPayment`.")
    async def payment(self, info: Info) -> OrderPayment:
        row = await info.context.loaders.payment_by_order_id.load(self.order_id)
        return OrderPayment.from_model(row or payment_from_snapshot(self.order_id, self.snapshot, self.total_q))

    @strawberry.field(description="The statuses `transitionOrder` accepts next, per the channel's flow.")
    async def allowed_transitions(self, info: Info) -> list[str]:
        channel = await info.context.loaders.channel_by_code.load(self.channel_code)
        return list(OrderFlow.from_config(channel.config if channel else None).allowed(self.status))

    @strawberry.field(description="Its fulfillments (split or partial deliveries), oldest first.")
    async def fulfillments(self, info: Info) -> list[Fulfillment]:
        rows = await info.context.loaders.fulfillments_by_order_id.load(self.order_id)
        return [Fulfillment.from_model(row, lines) for row, lines in rows]

    @strawberry.field(description="The side effects it caused (stock, payment, notifications), oldest first. "
                                  "Admin only, as every directive is.")
    async def directives(self, info: Info) -> list[Directive]:
        authorize(info, Action.ADMIN)
        rows = await info.context.loaders.directives_by_order_ref.load(self.ref)
        return [Directive.from_model(row) for row in rows]

    @strawberry.field(description="The customer named on its session at commit, with today's figures (the snapshot's "
                                  "`customer` keeps code, name and phone as they were); null when none.")
    async def customer(self, info: Info) -> Customer | None:
        if not self.customer_code:
            return None
        found = await info.context.loaders.customer_by_code.load(self.customer_code)
        return Customer.from_info(found) if found else Customer.from_snapshot(self.snapshot.get("customer") or {
            "code": self.customer_code})

"""Mutation payloads: the result (null on failure) and `errors`, empty on success."""

from typing import Any, Self

import strawberry

from .errors import UserError
from .types.catalog import Price, StockLevel
from .types.channel import Channel
from .types.customer import Customer
from .types.directive import Directive
from .types.fulfillment import Fulfillment
from .types.order import Order
from .types.ref import Ref
from .types.session import Session

ERRORS_DESCRIPTION = "Expected failures; empty on success."


@strawberry.type(description="Result of upsertChannel.")
class ChannelPayload:
    channel: Channel | None = strawberry.field(default=None, description="The channel as saved.")
    created: bool = strawberry.field(default=False, description="Whether it was created (false: updated).")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.type(description="Result of a session mutation.")
class SessionPayload:
    session: Session | None = strawberry.field(default=None, description="The session after the change.")
    created: bool = strawberry.field(default=False, description="openSession: whether a new session was opened.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.type(description="What a commit produced (the same on replay).")
class CommitResult:
    order_ref: str = strawberry.field(description="The order's reference.")
    order_id: strawberry.ID = strawberry.field(description="The order's id.")
    status: str = strawberry.field(description="`committed`, or `already_committed` when the session was sealed "
                                               "before (with another key).")
    total_q: int = strawberry.field(description="Order total in minor units.")
    items_count: int = strawberry.field(description="Number of lines.")

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> Self:
        return cls(order_ref=result["order_ref"], order_id=strawberry.ID(str(result["order_id"])),
                   status=result["status"], total_q=result["total_q"], items_count=result["items_count"])


@strawberry.type(description="Result of commitSession.")
class CommitPayload:
    result: CommitResult | None = strawberry.field(default=None, description="What the commit produced.")
    order: Order | None = strawberry.field(default=None, description="The order.")
    replayed: bool = strawberry.field(default=False, description="True when this idempotency key had already "
                                                                 "committed: nothing new was created.")
    idempotency_key: str | None = strawberry.field(default=None, description="The key used (yours, or generated).")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.type(description="Result of an order mutation.")
class OrderPayload:
    order: Order | None = strawberry.field(default=None, description="The order after the change.")
    created: bool = strawberry.field(default=False, description="importOrder: false when the ref was imported before.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.type(description="Result of a fulfillment mutation.")
class FulfillmentPayload:
    fulfillment: Fulfillment | None = strawberry.field(default=None, description="The fulfillment after the change.")
    order: Order | None = strawberry.field(default=None, description="Its order.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.type(description="Result of retryDirective.")
class DirectivePayload:
    directive: Directive | None = strawberry.field(default=None, description="The directive, queued again.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.type(description="Result of setPrices.")
class PricesPayload:
    prices: list[Price] = strawberry.field(default_factory=list, description="The prices as saved.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.type(description="Result of setStockLevels.")
class StockLevelsPayload:
    stock_levels: list[StockLevel] = strawberry.field(default_factory=list, description="The levels as saved.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.type(description="Result of upsertCustomer.")
class CustomerPayload:
    customer: Customer | None = strawberry.field(default=None, description="The customer as saved.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.type(description="Result of attachRef and detachRef.")
class RefPayload:
    ref: Ref | None = strawberry.field(default=None, description="The ref as it is now.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)

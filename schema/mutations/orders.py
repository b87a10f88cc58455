"""Mutations of orders: import, status transitions, custom events, fulfillments."""

from typing import Annotated

import strawberry

from omniman_gql.errors import OmnimanError
from omniman_gql.services import fulfillments, orders

from ..context import Info
from ..errors import user_errors
from ..inputs.order import (
    AddOrderEventInput,
    CreateFulfillmentInput,
    ImportOrderInput,
    TransitionOrderInput,
    UpdateFulfillmentInput,
)
from ..payloads import FulfillmentPayload, OrderPayload
from ..permissions import (
    Action,
    authorize,
    ensure_channel_visible,
    ensure_fulfillment_visible,
    ensure_order_visible,
)
from ..types.fulfillment import Fulfillment
from ..types.order import Order

INPUT = "What to do (see the input type)."
ImportOrderArg = Annotated[ImportOrderInput, strawberry.argument(description=INPUT)]
TransitionOrderArg = Annotated[TransitionOrderInput, strawberry.argument(description=INPUT)]
AddOrderEventArg = Annotated[AddOrderEventInput, strawberry.argument(description=INPUT)]
CreateFulfillmentArg = Annotated[CreateFulfillmentInput, strawberry.argument(description=INPUT)]
UpdateFulfillmentArg = Annotated[UpdateFulfillmentInput, strawberry.argument(description=INPUT)]


@strawberry.type
class OrderMutations:
    @strawberry.mutation(description="Import a finished order from a platform: session and order in one step, "
                                     "idempotent on (channel, externalRef) — `created: false` when seen before. "
                                     "Errors: not_found (channel), empty_session, missing_sku, invalid_qty, "
                                     "missing_unit_price_q, invalid_price, amount_out_of_range, "
                                     "price_override_not_allowed, invalid_input, and import validators' codes.")
    async def import_order(self, info: Info, input: ImportOrderArg) -> OrderPayload:
        authorize(info, Action.WRITE_SESSION)
        try:
            ensure_channel_visible(info, input.channel_code)
            row, created = await orders.import_order(info.context.hub, actor=info.context.actor,
                                                     role=info.context.role, **input.to_kwargs())
        except OmnimanError as exc:
            return OrderPayload(errors=user_errors(exc))
        return OrderPayload(order=Order.from_model(row), created=created)

    @strawberry.mutation(description="Move an order to the next status of its channel's flow; the status's timestamp "
                                     "is set the first time, and a `status_changed` event records you as actor. "
                                     "Errors: not_found, terminal_status, invalid_transition (context: current, "
                                     "requested, allowed).")
    async def transition_order(self, info: Info, input: TransitionOrderArg) -> OrderPayload:
        authorize(info, Action.MANAGE_ORDER)
        try:
            await ensure_order_visible(info, input.ref)
            row = await orders.transition_order(info.context.hub, actor=info.context.actor, **input.to_kwargs())
        except OmnimanError as exc:
            return OrderPayload(errors=user_errors(exc))
        return OrderPayload(order=Order.from_model(row))

    @strawberry.mutation(description="Append a `custom.*` event to an order's log. "
                                     "Errors: not_found, invalid_event_type, invalid_input.")
    async def add_order_event(self, info: Info, input: AddOrderEventArg) -> OrderPayload:
        authorize(info, Action.MANAGE_ORDER)
        try:
            await ensure_order_visible(info, input.ref)
            row = await orders.add_order_event(info.context.hub, actor=info.context.actor, **input.to_kwargs())
        except OmnimanError as exc:
            return OrderPayload(errors=user_errors(exc))
        return OrderPayload(order=Order.from_model(row))

    @strawberry.mutation(description="Start a fulfillment (split or partial delivery) of some of an order's lines; "
                                     "never more than is left to fulfil. Errors: not_found, unknown_line_id, "
                                     "invalid_qty, over_fulfillment, invalid_input.")
    async def create_fulfillment(self, info: Info, input: CreateFulfillmentArg) -> FulfillmentPayload:
        authorize(info, Action.MANAGE_ORDER)
        try:
            await ensure_order_visible(info, input.order_ref)
            order, row = await fulfillments.create_fulfillment(info.context.hub, actor=info.context.actor,
                                                               **input.to_kwargs())
        except OmnimanError as exc:
            return FulfillmentPayload(errors=user_errors(exc, rename={"ref": "orderRef"}))
        return FulfillmentPayload(fulfillment=await _fulfillment(info, order.id, row.ref),
                                  order=Order.from_model(order))

    @strawberry.mutation(description="Move a fulfillment along pending → in_progress → shipped → delivered (or "
                                     "cancelled) and/or set its carrier and tracking details. "
                                     "Errors: not_found, invalid_transition, terminal_status, invalid_input.")
    async def update_fulfillment(self, info: Info, input: UpdateFulfillmentArg) -> FulfillmentPayload:
        authorize(info, Action.MANAGE_ORDER)
        try:
            await ensure_fulfillment_visible(info, input.ref)
            order, row = await fulfillments.update_fulfillment(info.context.hub, actor=info.context.actor,
                                                               **input.to_kwargs())
        except OmnimanError as exc:
            return FulfillmentPayload(errors=user_errors(exc, rename={"fulfillment_ref": "ref"}))
        return FulfillmentPayload(fulfillment=await _fulfillment(info, order.id, row.ref),
                                  order=Order.from_model(order))


async def _fulfillment(info: Info, order_id: int | None, ref: str) -> Fulfillment | None:
    """The fulfillment with its lines, read back through the loader (the service returns the row only)."""
    rows = await info.context.loaders.fulfillments_by_order_id.load(order_id or 0)
    return next((Fulfillment.from_model(row, lines) for row, lines in rows if row.ref == ref), None)

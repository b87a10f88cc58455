"""Mutations of an order's payment: attach a new intent (a declined card, none at commit), refund."""

from typing import Annotated

import strawberry

from omniman_gql.errors import OmnimanError
from omniman_gql.services import payments

from ..context import Info
from ..errors import user_errors
from ..inputs.payment import AttachPaymentInput, RefundPaymentInput
from ..payloads import OrderPayload
from ..permissions import Action, authorize, ensure_order_visible
from ..types.order import Order

INPUT = "What to do (see the input type)."
AttachPaymentArg = Annotated[AttachPaymentInput, strawberry.argument(description=INPUT)]
RefundPaymentArg = Annotated[RefundPaymentInput, strawberry.argument(description=INPUT)]
RENAME = {"ref": "orderRef"}


@strawberry.type
class PaymentMutations:
    @strawberry.mutation(description="Give an order whose payment is not captured (none at commit, or declined) a "
                                     "new intent and queue its capture; appends `payment.attached`. Staff, admin, "
                                     "and clients of the order's channel. Errors: not_found, "
                                     "payment_already_captured, terminal_status (cancelled or returned), "
                                     "invalid_input.")
    async def attach_payment(self, info: Info, input: AttachPaymentArg) -> OrderPayload:
        authorize(info, Action.WRITE_SESSION)
        try:
            await ensure_order_visible(info, input.order_ref)
            row = await payments.attach_payment(info.context.hub, actor=info.context.actor, **input.to_kwargs())
        except OmnimanError as exc:
            return OrderPayload(errors=user_errors(exc, rename=RENAME))
        return OrderPayload(order=Order.from_model(row))

    @strawberry.mutation(description="Refund part or all of an order's captured payment (queued as "
                                     "`payment.refund`; `payment.refunded` is appended when the gateway has done it). "
                                     "Partial refunds add up. Staff and admin. Errors: not_found, over_refund "
                                     "(context: refundable_q), invalid_input.")
    async def refund_payment(self, info: Info, input: RefundPaymentArg) -> OrderPayload:
        authorize(info, Action.MANAGE_ORDER)
        try:
            await ensure_order_visible(info, input.order_ref)
            row = await payments.refund_payment(info.context.hub, actor=info.context.actor, **input.to_kwargs())
        except OmnimanError as exc:
            return OrderPayload(errors=user_errors(exc, rename=RENAME))
        return OrderPayload(order=Order.from_model(row))

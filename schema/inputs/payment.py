"""Inputs of payment mutations: attach a new intent, refund part or all."""

from typing import Any

import strawberry


@strawberry.input(description="Give an order without a captured payment a new payment intent, then capture it.")
class AttachPaymentInput:
    order_ref: str = strawberry.field(description="The order.")
    intent_id: str = strawberry.field(description="The gateway's new payment intent.")
    method: str | None = strawberry.field(default=None, description="How it is paid (`card`, `pix`…).")

    def to_kwargs(self) -> dict[str, Any]:
        return {"ref": self.order_ref, "intent_id": self.intent_id, "method": self.method}


@strawberry.input(description="Refund part or all of an order's captured payment.")
class RefundPaymentInput:
    order_ref: str = strawberry.field(description="The order.")
    amount_q: int | None = strawberry.field(default=None, description="Minor units to refund; default: all that "
                                                                      "is left (captured minus refunded).")
    reason: str | None = strawberry.field(default=None, description="Why (kept on the `payment.refunded` event).")

    def to_kwargs(self) -> dict[str, Any]:
        return {"ref": self.order_ref, "amount_q": self.amount_q, "reason": self.reason}

"""OrderPayment: where an order's payment is (§14), moved only by the payment directives and mutations."""

from enum import Enum
from typing import Self

import strawberry

from omniman_gql import models


@strawberry.enum(description="Where an order's payment is.")
class PaymentStatus(Enum):
    NONE = strawberry.enum_value("none", description="No payment intent: nothing to capture (attach one).")
    PENDING = strawberry.enum_value("pending", description="An intent waits for its capture.")
    AUTHORIZED = strawberry.enum_value("authorized", description="The gateway authorised it; not captured yet.")
    CAPTURED = strawberry.enum_value("captured", description="Captured: the order is paid.")
    PARTIALLY_REFUNDED = strawberry.enum_value("partially_refunded", description="Captured, part of it refunded.")
    REFUNDED = strawberry.enum_value("refunded", description="Everything captured was refunded.")
    FAILED = strawberry.enum_value("failed", description="The capture failed for good (declined, no intent, retries "
                                                         "used up); see `lastError`. `attachPayment` fixes it.")


@strawberry.type(description="An order's payment: status, intent, method and amounts (minor units).")
class OrderPayment:
    status: PaymentStatus = strawberry.field(description="Where the payment is.")
    intent_id: str | None = strawberry.field(description="The gateway's payment intent.")
    method: str | None = strawberry.field(description="How it is paid (`card`, `pix`…), as the client said.")
    amount_q: int = strawberry.field(description="What is due: the order's total.")
    captured_q: int = strawberry.field(description="What was captured.")
    refunded_q: int = strawberry.field(description="What was refunded so far (refunds add up).")
    last_error: str | None = strawberry.field(description="Why the last capture or refund failed, if it did.")

    @classmethod
    def from_model(cls, row: models.OrderPayment) -> Self:
        return cls(status=PaymentStatus(row.status), intent_id=row.intent_id, method=row.method,
                   amount_q=row.amount_q, captured_q=row.captured_q, refunded_q=row.refunded_q,
                   last_error=row.last_error)

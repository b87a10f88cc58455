"""Customer: who orders, what they pay (their price list) and what they have ordered so far."""

import datetime as dt
from typing import Any, Self

import strawberry

from omniman_gql.protocols import CustomerInfo

from .node import Node


@strawberry.type(description="A customer of the customer backend (staff and admin see the directory; other tokens "
                             "only the customer of a session or order they may see).")
class Customer(Node):
    position: strawberry.Private[int]
    code: str = strawberry.field(description="Customer code (`CUS-…` when generated).")
    name: str = strawberry.field(description="Name; may be empty.")
    phone: str | None = strawberry.field(description="Phone as given; customers are told apart by its digits.")
    email: str | None = strawberry.field(description="E-mail address, lower case.")
    tax_id: str | None = strawberry.field(description="Tax id (CPF, CNPJ, VAT number…).")
    price_list: str | None = strawberry.field(description="Price list the customer pays (e.g. `staff`); null: the "
                                                          "channel's prices.")
    notes: str | None = strawberry.field(description="Free notes.")
    tags: list[str] = strawberry.field(description="Tags.")
    is_active: bool = strawberry.field(description="Inactive customers cannot be named on a session.")
    orders_count: int = strawberry.field(description="Orders committed for the customer, cancelled ones taken out.")
    total_spent_q: int = strawberry.field(description="Their total, in minor units, cancelled ones taken out.")
    last_order_at: dt.datetime | None = strawberry.field(description="When the latest counted order was made.")

    def node_key(self) -> tuple[str, ...]:
        return (self.code,)

    @classmethod
    def from_info(cls, info: CustomerInfo) -> Self:
        return cls(position=info.id, code=info.code, name=info.name, phone=info.phone, email=info.email,
                   tax_id=info.tax_id, price_list=info.price_list, notes=info.notes, tags=list(info.tags),
                   is_active=info.is_active, orders_count=info.orders_count, total_spent_q=info.total_spent_q,
                   last_order_at=info.last_order_at)

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> Self:
        """An order's customer as the snapshot keeps it, when the backend no longer knows it."""
        return cls(position=0, code=str(snapshot.get("code") or ""), name=str(snapshot.get("name") or ""),
                   phone=snapshot.get("phone"), email=None, tax_id=None, price_list=None, notes=None, tags=[],
                   is_active=False, orders_count=0, total_spent_q=0, last_order_at=None)

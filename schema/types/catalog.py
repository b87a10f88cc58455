"""Price and StockLevel: the shipped simple backends (a price table and database stock levels)."""

import decimal
from typing import Self

import strawberry

from omniman_gql import models


@strawberry.type(description="A unit price of the price table (used to price lines of internally priced channels).")
class Price:
    sku: str = strawberry.field(description="Stock keeping unit.")
    unit_price_q: int = strawberry.field(description="Unit price in minor units.")
    name: str = strawberry.field(description="Product name; empty if not set.")

    @classmethod
    def from_model(cls, row: models.Price) -> Self:
        return cls(sku=row.sku, unit_price_q=row.unit_price_q, name=row.name)


@strawberry.type(description="Stock of one SKU in the database stock backend.")
class StockLevel:
    sku: str = strawberry.field(description="Stock keeping unit.")
    on_hand: decimal.Decimal = strawberry.field(description="Quantity on hand.")
    held: decimal.Decimal = strawberry.field(description="Quantity held by open sessions (active, unexpired holds).")
    available: decimal.Decimal = strawberry.field(description="onHand − held.")

    @classmethod
    def from_row(cls, row: tuple[str, decimal.Decimal, decimal.Decimal]) -> Self:
        sku, on_hand, held = row
        return cls(sku=sku, on_hand=on_hand, held=held, available=on_hand - held)

"""Price and StockLevel: the shipped simple backends (a price table and database stock levels)."""

import decimal
from typing import Self

import strawberry

from omniman_gql import models


@strawberry.type(description="A unit price of the price table (used to price lines of internally priced channels): "
                             "for one channel or every one, for one price list or for customers without one.")
class Price:
    sku: str = strawberry.field(description="Stock keeping unit.")
    unit_price_q: int = strawberry.field(description="Unit price in minor units.")
    name: str = strawberry.field(description="Product name; empty if not set.")
    channel_code: str | None = strawberry.field(description="The channel it is for; null: every channel.")
    price_list: str | None = strawberry.field(description="The customers' price list it is for (e.g. `staff`); "
                                                          "null: customers without a list.")

    @classmethod
    def from_model(cls, row: models.Price) -> Self:
        return cls(sku=row.sku, unit_price_q=row.unit_price_q, name=row.name, channel_code=row.channel_code or None,
                   price_list=row.price_list or None)


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

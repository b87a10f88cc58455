"""Inputs of the simple backends' mutations: prices and stock levels."""

import decimal
from typing import Any

import strawberry


@strawberry.input(description="A unit price to set (upsert by SKU, channel and price list). A session's line takes "
                              "the first found of (its channel, its customer's list), (any channel, the list), (its "
                              "channel, no list), (any channel, no list).")
class PriceInput:
    sku: str = strawberry.field(description="Stock keeping unit.")
    unit_price_q: int = strawberry.field(description="Unit price in minor units (≥ 0).")
    name: str | None = strawberry.field(default=None, description="Product name (kept when absent).")
    channel_code: str | None = strawberry.field(default=None, description="Only on this channel; absent: every "
                                                                          "channel.")
    price_list: str | None = strawberry.field(default=None, description="Only for customers with this price list "
                                                                        "(e.g. `staff`); absent: without a list.")

    def to_entry(self) -> dict[str, Any]:
        return {"sku": self.sku, "unit_price_q": self.unit_price_q, "name": self.name,
                "channel_code": self.channel_code, "price_list": self.price_list}


@strawberry.input(description="An on-hand quantity to set (upsert by SKU).")
class StockLevelInput:
    sku: str = strawberry.field(description="Stock keeping unit.")
    qty: decimal.Decimal = strawberry.field(description='On-hand quantity, "0" or more.')

    def to_entry(self) -> dict[str, Any]:
        # As text: the service reads "0" as an explicit zero (a quantity elsewhere must be > 0).
        return {"sku": self.sku, "qty": format(self.qty, "f")}

"""Inputs of the simple backends' mutations: prices and stock levels."""

import decimal
from typing import Any

import strawberry


@strawberry.input(description="A unit price to set (upsert by SKU).")
class PriceInput:
    sku: str = strawberry.field(description="Stock keeping unit.")
    unit_price_q: int = strawberry.field(description="Unit price in minor units (≥ 0).")
    name: str | None = strawberry.field(default=None, description="Product name (kept when absent).")

    def to_entry(self) -> dict[str, Any]:
        return {"sku": self.sku, "unit_price_q": self.unit_price_q, "name": self.name}


@strawberry.input(description="An on-hand quantity to set (upsert by SKU).")
class StockLevelInput:
    sku: str = strawberry.field(description="Stock keeping unit.")
    qty: decimal.Decimal = strawberry.field(description='On-hand quantity, "0" or more.')

    def to_entry(self) -> dict[str, Any]:
        # As text: the service reads "0" as an explicit zero (a quantity elsewhere must be > 0).
        return {"sku": self.sku, "qty": format(self.qty, "f")}

"""Pricing backend over the `prices` table (one unit price per SKU, set with `set_prices`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select

from ..domain.draft import PriceQuote
from ..models import Price

_TABLE = Price.__table__
# Every priced modify may run it: built once.
_PRICES = (select(_TABLE.c.sku, _TABLE.c.unit_price_q, _TABLE.c.name)
           .where(_TABLE.c.sku.in_(bindparam("skus", expanding=True))))


class PriceTable:
    # Hand it the unit of work rather than an ORM session: it only sends a Core statement (`db.execute`, which an ORM
    # session, a connection and a unit of work all have).
    takes_unit_of_work = True

    async def get_prices(self, db: Any, skus: Iterable[str], channel_code: str) -> dict[str, PriceQuote]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        rows = await db.execute(_PRICES, {"skus": wanted})
        return {sku: PriceQuote(unit_price_q=price, name=name) for sku, price, name in rows}

    async def get_price(self, db: Any, sku: str, channel_code: str) -> int | None:
        quote = (await self.get_prices(db, [sku], channel_code)).get(sku)
        return quote.unit_price_q if quote else None

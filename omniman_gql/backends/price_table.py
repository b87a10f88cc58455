"""Pricing backend over the `prices` table: unit prices per SKU, per channel and per price list (`set_prices`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select

from ..domain.draft import PriceQuote
from ..domain.pricing import ANY, resolve_prices
from ..models import Price

_TABLE = Price.__table__
# Every priced modify may run it: built once. The rows that may apply (this channel or any, the list or none);
# resolve_prices picks the most specific of them.
_PRICES = (select(_TABLE.c.sku, _TABLE.c.channel_code, _TABLE.c.price_list, _TABLE.c.unit_price_q, _TABLE.c.name)
           .where(_TABLE.c.sku.in_(bindparam("skus", expanding=True)),
                  _TABLE.c.channel_code.in_([ANY, bindparam("channel_code")]),
                  _TABLE.c.price_list.in_([ANY, bindparam("price_list")])))


class PriceTable:
    # Hand it the unit of work rather than an ORM session: it only sends a Core statement (`db.execute`, which an ORM
    # session, a connection and a unit of work all have).
    takes_unit_of_work = True

    async def get_prices(self, db: Any, skus: Iterable[str], channel_code: str,
                         price_list: str | None = None) -> dict[str, PriceQuote]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        rows = await db.execute(_PRICES, {"skus": wanted, "channel_code": channel_code,
                                          "price_list": price_list or ANY})
        return resolve_prices(rows, channel_code, price_list)

    async def get_price(self, db: Any, sku: str, channel_code: str, price_list: str | None = None) -> int | None:
        quote = (await self.get_prices(db, [sku], channel_code, price_list)).get(sku)
        return quote.unit_price_q if quote else None

"""Pricing backend over the `prices` table (one unit price per SKU, set with `set_prices`)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..domain.draft import PriceQuote
from ..models import Price


class PriceTable:
    async def get_prices(self, db: AsyncSession, skus: Iterable[str], channel_code: str) -> dict[str, PriceQuote]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        rows = await db.execute(select(Price.sku, Price.unit_price_q, Price.name).where(Price.sku.in_(wanted)))
        return {sku: PriceQuote(unit_price_q=price, name=name) for sku, price, name in rows}

    async def get_price(self, db: AsyncSession, sku: str, channel_code: str) -> int | None:
        quote = (await self.get_prices(db, [sku], channel_code)).get(sku)
        return quote.unit_price_q if quote else None

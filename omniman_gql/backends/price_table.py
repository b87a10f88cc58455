"""Pricing backend over the `prices` table (one unit price per SKU, set with `set_prices`)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ARRAY, any_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ..infra import pg_direct
from ..domain.draft import PriceQuote
from ..models import Price


_TABLE = Price.__table__
# Every priced modify runs it: built once, sent as Core on the session's connection.
_PRICES = (select(_TABLE.c.sku, _TABLE.c.unit_price_q, _TABLE.c.name)
           .where(_TABLE.c.sku.in_(bindparam("skus", expanding=True))))
# PostgreSQL: `sku = ANY(%(skus)s)`, one array bound as it is (an expanding IN is rewritten per call by SQLAlchemy).
_PRICES_ANY = (select(_TABLE.c.sku, _TABLE.c.unit_price_q, _TABLE.c.name)
               .where(_TABLE.c.sku == any_(bindparam("skus", type_=ARRAY(_TABLE.c.sku.type)))))


class PriceTable:
    takes_connection = True  # the checkout's Core paths may hand it their connection instead of an ORM session

    async def get_prices(self, db: AsyncSession | AsyncConnection, skus: Iterable[str], channel_code: str) -> dict[str, PriceQuote]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        connection = db if isinstance(db, AsyncConnection) else await db.connection()
        if connection.dialect.name == "postgresql":  # one array parameter: a statement pg_direct can send as it is
            rows = await pg_direct.execute(connection, _PRICES_ANY, {"skus": wanted})
        else:
            rows = await connection.execute(_PRICES, {"skus": wanted})
        return {sku: PriceQuote(unit_price_q=price, name=name) for sku, price, name in rows}

    async def get_price(self, db: AsyncSession, sku: str, channel_code: str) -> int | None:
        quote = (await self.get_prices(db, [sku], channel_code)).get(sku)
        return quote.unit_price_q if quote else None

"""Stock backend over the `stock_levels` and `stock_holds` tables: available = on hand − active, unexpired holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import ids
from ..models import StockHold, StockLevel, utcnow
from ..protocols import Availability, Hold


class DatabaseStock:
    async def levels(self, db: AsyncSession, skus: list[str] | None = None) -> list[tuple[str, Decimal, Decimal]]:
        """(sku, on_hand, held) for the given SKUs (all when None)."""
        query = select(StockLevel.sku, StockLevel.on_hand).order_by(StockLevel.sku)
        if skus is not None:
            query = query.where(StockLevel.sku.in_(skus))
        rows = (await db.execute(query)).all()
        held = await self._held(db, [sku for sku, _ in rows])
        return [(sku, on_hand, held.get(sku, Decimal(0))) for sku, on_hand in rows]

    async def _held(self, db: AsyncSession, skus: list[str]) -> dict[str, Decimal]:
        if not skus:
            return {}
        now = utcnow()
        rows = await db.execute(
            select(StockHold.sku, StockHold.qty).where(
                StockHold.sku.in_(skus), StockHold.status == "active", StockHold.expires_at > now
            )
        )
        held: dict[str, Decimal] = {}
        for sku, qty in rows:
            held[sku] = held.get(sku, Decimal(0)) + qty
        return held

    async def check_availability(self, db: AsyncSession, wanted: Mapping[str, Decimal]) -> list[Availability]:
        """What is available of each SKU. The levels stay locked until the caller's transaction ends, so holds it
        creates in that transaction cannot oversell against a concurrent check (on SQLite writers are serial)."""
        skus = sorted(wanted)
        on_hand = dict((await db.execute(
            select(StockLevel.sku, StockLevel.on_hand).where(StockLevel.sku.in_(skus))
            .order_by(StockLevel.sku).with_for_update())).all())
        held = await self._held(db, skus)
        return [
            Availability(sku=sku, requested=wanted[sku],
                         available=max(Decimal(0), on_hand.get(sku, Decimal(0)) - held.get(sku, Decimal(0))))
            for sku in skus
        ]

    async def create_hold(
        self, db: AsyncSession, *, sku: str, qty: Decimal, reference: str, expires_at: dt.datetime
    ) -> Hold:
        row = StockHold(hold_id=ids.hold_id(), sku=sku, qty=qty, reference=reference, expires_at=expires_at)
        db.add(row)
        await db.flush()
        return Hold(hold_id=row.hold_id, sku=sku, qty=qty, expires_at=expires_at)

    async def release_hold(self, db: AsyncSession, hold_id: str) -> bool:
        result = await db.execute(
            update(StockHold).where(StockHold.hold_id == hold_id, StockHold.status == "active")
            .values(status="released", updated_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release_holds_for_reference(self, db: AsyncSession, reference: str) -> int:
        result = await db.execute(
            update(StockHold).where(StockHold.reference == reference, StockHold.status == "active")
            .values(status="released", updated_at=utcnow())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def fulfill_hold(self, db: AsyncSession, hold_id: str) -> bool:
        hold = (await db.execute(
            select(StockHold).where(StockHold.hold_id == hold_id).with_for_update())).scalar_one_or_none()
        if hold is None or hold.status == "released":
            return False
        if hold.status == "fulfilled":
            return True  # idempotent: the stock already left
        level = (await db.execute(
            select(StockLevel).where(StockLevel.sku == hold.sku).with_for_update())).scalar_one_or_none()
        if level is None:
            return False
        level.on_hand = level.on_hand - hold.qty
        level.updated_at = utcnow()
        hold.status = "fulfilled"
        hold.updated_at = utcnow()
        await db.flush()
        return True

    async def restock_for_reference(self, db: AsyncSession, reference: str) -> list[tuple[str, Decimal]]:
        """Put back on hand what the fulfilled holds of `reference` took; each hold once (it becomes `restocked`),
        so running it again, or concurrently, restocks nothing more. Returns (sku, qty) of what was put back."""
        holds = (await db.execute(
            select(StockHold).where(StockHold.reference == reference, StockHold.status == "fulfilled")
            .order_by(StockHold.sku).with_for_update())).scalars().all()
        back: list[tuple[str, Decimal]] = []
        for hold in holds:
            level = (await db.execute(
                select(StockLevel).where(StockLevel.sku == hold.sku).with_for_update())).scalar_one_or_none()
            if level is not None:
                level.on_hand = level.on_hand + hold.qty
                level.updated_at = utcnow()
            hold.status = "restocked"
            hold.updated_at = utcnow()
            back.append((hold.sku, hold.qty))
        await db.flush()
        return back

    async def get_alternatives(self, db: AsyncSession, sku: str) -> list[str]:
        return []

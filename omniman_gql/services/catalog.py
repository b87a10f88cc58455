"""Use cases of the shipped simple backends: the price table and on-hand stock levels."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from ..domain.limits import check_optional_string, check_string
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import Price, StockLevel, utcnow
from ..money import parse_qty, parse_quantum
from ..runtime import Hub
from ..uow import UnitOfWork

MAX_BATCH = 1000


def _entry(entry: Any, index: int) -> None:
    if not isinstance(entry, dict):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "Each entry must be an object.", field=("input", index))


def _batch(items: Sequence[Any]) -> None:
    if len(items) > MAX_BATCH:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"At most {MAX_BATCH} entries per call.", field=("input",))


async def set_prices(hub: Hub, prices: Sequence[dict[str, Any]]) -> list[Price]:
    """Upsert unit prices by SKU. Errors: missing_sku, invalid_price, invalid_input."""
    _batch(prices)
    limits = hub.registry.limits
    clean: dict[str, tuple[int, str | None]] = {}
    errors: list[OmnimanError] = []
    for i, entry in enumerate(prices):
        try:
            _entry(entry, i)
            sku = check_string(entry.get("sku"), limits, field=("input", i, "sku"), code=ErrorCode.MISSING_SKU,
                               what="`sku`")
            price = parse_quantum(entry.get("unit_price_q"), field=("input", i, "unit_price_q"))
            name = check_optional_string(entry.get("name"), limits, field=("input", i, "name"), what="`name`")
            clean[sku] = (price, name)
        except OmnimanError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    async with hub.transaction() as uow:
        now = utcnow()
        existing = await _lock_rows(uow, Price, [
            {"sku": sku, "unit_price_q": price, "name": name or "", "updated_at": now}
            for sku, (price, name) in sorted(clean.items())])
        for sku, (price, name) in clean.items():
            row = existing[sku]
            row.unit_price_q = price
            if name is not None:
                row.name = name
            row.updated_at = now
        await uow.db.flush()
    return [existing[sku] for sku in clean]


async def _lock_rows(uow: UnitOfWork, model: Any, new_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Create the SKUs' rows that are missing, then lock them all, by SKU: concurrent calls neither collide on the
    primary key nor deadlock (every caller takes the locks in the same order)."""
    if not new_rows:
        return {}
    await uow.rows.insert_missing(model.__table__, new_rows)
    skus = [row["sku"] for row in new_rows]
    found = (await uow.db.execute(select(model).where(model.sku.in_(skus)).order_by(model.sku).with_for_update()))
    return {row.sku: row for row in found.scalars()}


async def list_prices(hub: Hub, skus: Sequence[str] | None = None) -> list[Price]:
    async with hub.transaction(readonly=True) as uow:
        query = select(Price).order_by(col(Price.sku)).limit(MAX_BATCH)
        if skus is not None:
            query = query.where(col(Price.sku).in_(list(skus)[:MAX_BATCH]))
        return list((await uow.db.execute(query)).scalars())


async def set_stock_levels(hub: Hub, levels: Sequence[dict[str, Any]]) -> list[tuple[str, Decimal, Decimal]]:
    """Set on-hand quantities by SKU (zero allowed). Returns (sku, on_hand, held). Errors: missing_sku, invalid_qty."""
    _batch(levels)
    limits = hub.registry.limits
    clean: dict[str, Decimal] = {}
    errors: list[OmnimanError] = []
    for i, entry in enumerate(levels):
        try:
            _entry(entry, i)
            sku = check_string(entry.get("sku"), limits, field=("input", i, "sku"), code=ErrorCode.MISSING_SKU,
                               what="`sku`")
            clean[sku] = _on_hand(entry.get("qty"), ("input", i, "qty"))
        except OmnimanError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    async with hub.transaction() as uow:
        now = utcnow()
        existing = await _lock_rows(uow, StockLevel, [
            {"sku": sku, "on_hand": qty, "updated_at": now} for sku, qty in sorted(clean.items())])
        for sku, qty in clean.items():
            existing[sku].on_hand = qty
            existing[sku].updated_at = now
        await uow.db.flush()
        return await hub.registry.stock.levels(uow.db, list(clean))


def _on_hand(value: Any, field: tuple[str | int, ...]) -> Decimal:
    return parse_qty(value, field=field, allow_zero=True)  # zero on hand is a real level ("sold out")


async def stock_levels(hub: Hub, skus: Sequence[str] | None = None) -> list[tuple[str, Decimal, Decimal]]:
    """(sku, on_hand, held) — available is on_hand − held."""
    async with hub.transaction(readonly=True) as uow:
        return await hub.registry.stock.levels(
            uow.db, list(skus)[:MAX_BATCH] if skus is not None else None)

"""Use cases of the shipped simple backends: the price table and on-hand stock levels."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select, tuple_
from sqlmodel import col

from ..domain.customers import check_customer_input
from ..domain.limits import check_optional_string, check_string
from ..domain.pricing import ANY
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import Channel, Price, StockLevel, table_of, utcnow
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
    """Upsert unit prices by (SKU, channel, price list); a row without `channel_code` is for every channel, one
    without `price_list` for customers without a list (§16). Errors: missing_sku, invalid_price, invalid_input,
    not_found (a channel that does not exist)."""
    _batch(prices)
    limits = hub.registry.limits
    clean: dict[tuple[str, str, str], tuple[int, str | None]] = {}
    errors: list[OmnimanError] = []
    for i, entry in enumerate(prices):
        try:
            _entry(entry, i)
            sku = check_string(entry.get("sku"), limits, field=("input", i, "sku"), code=ErrorCode.MISSING_SKU,
                               what="`sku`")
            price = parse_quantum(entry.get("unit_price_q"), field=("input", i, "unit_price_q"))
            name = check_optional_string(entry.get("name"), limits, field=("input", i, "name"), what="`name`")
            clean[(sku, *_price_key(entry, i))] = (price, name)
        except OmnimanError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    async with hub.transaction() as uow:
        await _channels_exist(uow, prices)
        now = utcnow()
        await uow.rows.insert_missing(table_of(Price), [
            {"sku": sku, "channel_code": channel, "price_list": price_list, "unit_price_q": price,
             "name": name or "", "updated_at": now}
            for (sku, channel, price_list), (price, name) in sorted(clean.items())])
        # Locked in key order: concurrent calls neither collide on the key nor deadlock.
        key = tuple_(col(Price.sku), col(Price.channel_code), col(Price.price_list))
        found = await uow.db.execute(select(Price).where(key.in_(sorted(clean)))
                                     .order_by(col(Price.sku), col(Price.channel_code), col(Price.price_list))
                                     .with_for_update())
        existing = {(row.sku, row.channel_code, row.price_list): row for row in found.scalars()}
        for row_key, (price, name) in clean.items():
            row = existing[row_key]
            row.unit_price_q = price
            if name is not None:
                row.name = name
            row.updated_at = now
        await uow.db.flush()
    return [existing[row_key] for row_key in clean]


def _price_key(entry: dict[str, Any], index: int) -> tuple[str, str]:
    """(channel_code, price_list) of a price entry, "" for "any channel" and "no list"."""
    channel = entry.get("channel_code")
    if channel is not None and (not isinstance(channel, str) or not 0 < len(channel.strip()) <= 64):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "`channel_code` is a channel's code.",
                           field=("input", index, "channel_code"))
    price_list = entry.get("price_list")
    if price_list is not None:
        try:
            price_list = check_customer_input({"price_list": price_list}).get("price_list")
        except OmnimanError as exc:
            exc.field = ("input", index, "price_list")
            raise
        if price_list is None:
            raise OmnimanError(ErrorCode.INVALID_INPUT, "`price_list` may not be blank; leave it out for the "
                               "price without a list.", field=("input", index, "price_list"))
    return (channel.strip() if channel else ANY), (price_list or ANY)


async def _channels_exist(uow: UnitOfWork, prices: Sequence[dict[str, Any]]) -> None:
    wanted = {entry["channel_code"].strip(): i for i, entry in enumerate(prices) if entry.get("channel_code")}
    if not wanted:
        return
    known = set((await uow.db.execute(select(col(Channel.code)).where(col(Channel.code).in_(sorted(wanted)))))
                .scalars())
    for code, index in sorted(wanted.items(), key=lambda item: item[1]):
        if code not in known:
            raise OmnimanError(ErrorCode.NOT_FOUND, f"No channel {code!r}.", field=("input", index, "channel_code"),
                               context={"channel_code": code})


async def _lock_rows(uow: UnitOfWork, model: Any, new_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Create the SKUs' rows that are missing, then lock them all, by SKU: concurrent calls neither collide on the
    primary key nor deadlock (every caller takes the locks in the same order)."""
    if not new_rows:
        return {}
    await uow.rows.insert_missing(model.__table__, new_rows)
    skus = [row["sku"] for row in new_rows]
    found = (await uow.db.execute(select(model).where(model.sku.in_(skus)).order_by(model.sku).with_for_update()))
    return {row.sku: row for row in found.scalars()}


async def list_prices(hub: Hub, skus: Sequence[str] | None = None, *, channel_code: str | None = None,
                      price_list: str | None = None) -> list[Price]:
    """Price rows by SKU, then channel and list (the rows for any channel and no list first); only those of
    `channel_code` / `price_list` when given ("" asks for the rows for any channel / without a list)."""
    async with hub.transaction(readonly=True) as uow:
        query = (select(Price).order_by(col(Price.sku), col(Price.channel_code), col(Price.price_list))
                 .limit(MAX_BATCH))
        if skus is not None:
            query = query.where(col(Price.sku).in_(list(skus)[:MAX_BATCH]))
        if channel_code is not None:
            query = query.where(col(Price.channel_code) == channel_code)
        if price_list is not None:
            query = query.where(col(Price.price_list) == price_list)
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

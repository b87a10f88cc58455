"""Helpers for directive tests: an e-commerce channel with stock and prices, polling with a deadline, row reads."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import anyio
from sqlalchemy import select

from omniman_gql.models import Directive, OrderEvent, StockHold, StockLevel
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, commit, outbox, sessions
from tests.factories import make_channel

T = TypeVar("T")

ECOMMERCE_CONFIG = {
    "required_checks_on_commit": ["stock"],
    "post_commit_directives": ["stock.commit", "payment.capture"],
    "on_status": {"cancelled": ["stock.release", "payment.refund"]},
}


async def ecommerce(hub: Hub, stock: dict[str, str], prices: dict[str, int] | None = None) -> str:
    """A channel that checks stock before commit and commits stock and captures payment after it."""
    code = await make_channel(hub, f"shop-{uuid.uuid4().hex[:6]}", config=ECOMMERCE_CONFIG)
    await catalog.set_stock_levels(hub, [{"sku": sku, "qty": qty} for sku, qty in stock.items()])
    prices = dict.fromkeys(stock, 1000) | (prices or {})
    await catalog.set_prices(hub, [{"sku": sku, "unit_price_q": p} for sku, p in prices.items()])
    return code


async def cart(hub: Hub, channel: str, lines: list[tuple[str, str]], *, intent: str | None = "pi_1") -> str:
    """Open a session with a payment intent and add lines (priced by the price table); returns the session key."""
    data = {"payment": {"intent_id": intent}} if intent else None
    session, _ = await sessions.open_session(hub, channel_code=channel, data=data)
    await sessions.modify_session(hub, channel_code=channel, session_key=session.session_key,
                                  ops=[{"addLine": {"sku": sku, "qty": qty}} for sku, qty in lines])
    return session.session_key


async def checkout(hub: Hub, channel: str, session_key: str) -> commit.CommitOutcome:
    return await commit.commit_session(hub, channel_code=channel, session_key=session_key,
                                       idempotency_key=uuid.uuid4().hex)


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 10.0, what: str = "condition"
                     ) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` (and the last value) after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await anyio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


async def directives(hub: Hub, *where: Any) -> list[Directive]:
    async with hub.transaction(readonly=True) as uow:
        return list((await uow.db.execute(select(Directive).where(*where).order_by(Directive.id))).scalars())


async def directive(hub: Hub, directive_id: int) -> Directive:
    (row,) = await directives(hub, Directive.id == directive_id)
    return row


def describe(rows: list[Directive]) -> list[tuple[Any, ...]]:
    return [(d.id, d.topic, d.status, d.attempts, d.last_error) for d in rows]


async def all_finished(hub: Hub, *where: Any) -> list[Directive] | None:
    """The directives matching `where` if every one is `done` or `failed`, else None."""
    rows = await directives(hub, *where)
    return rows if rows and all(d.status in ("done", "failed") for d in rows) else None


async def on_hand(hub: Hub, sku: str) -> Decimal:
    async with hub.transaction(readonly=True) as uow:
        return (await uow.db.execute(select(StockLevel.on_hand).where(StockLevel.sku == sku))).scalar_one()


async def holds(hub: Hub, *where: Any) -> list[StockHold]:
    async with hub.transaction(readonly=True) as uow:
        return list((await uow.db.execute(select(StockHold).where(*where).order_by(StockHold.id))).scalars())


async def events(hub: Hub, order_id: int | None, type_: str) -> list[OrderEvent]:
    async with hub.transaction(readonly=True) as uow:
        return list((await uow.db.execute(select(OrderEvent).where(
            OrderEvent.order_id == order_id, OrderEvent.type == type_).order_by(OrderEvent.id))).scalars())


async def enqueue(hub: Hub, topic: str, payload: dict[str, Any], *, order_ref: str | None = None) -> int:
    """Write one directive as a service would (and dispatch it after commit, through the hub's dispatcher)."""
    async with hub.transaction() as uow:
        row = await outbox.enqueue(uow, topic, payload, order_ref=order_ref)
    assert row.id is not None
    return row.id

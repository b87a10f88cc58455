"""The extension points: what a backend, handler, resolver, dispatcher or publisher must provide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .runtime import Hub
    from .uow import UnitOfWork


class PricingBackend(Protocol):
    """Prices SKUs for channels with `pricing_policy=internal`."""

    async def get_prices(self, db: AsyncSession, skus: Iterable[str], channel_code: str) -> dict[str, int]:
        """The unit price in minor units of each SKU it knows; unknown SKUs are left out. When the session's
        customer has a price list it is passed as the keyword `price_list` (a backend without price lists may leave
        the keyword out of its signature only if no customer has one)."""
        ...


@dataclass(frozen=True)
class CustomerInfo:
    """A customer as the hub's use cases and the API see it."""

    code: str
    name: str
    phone: str | None = None
    email: str | None = None
    tax_id: str | None = None
    price_list: str | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()
    is_active: bool = True
    orders_count: int = 0
    total_spent_q: int = 0
    last_order_at: dt.datetime | None = None
    id: int = 0  # the directory's position (a page's cursor); 0 where the backend has none


@dataclass(frozen=True)
class OrderFigures:
    """What `record_order` counts of one order; `counted` False takes it back out (a cancelled order)."""

    order_ref: str
    total_q: int
    ordered_at: dt.datetime
    counted: bool


class CustomerBackend(Protocol):
    """Who orders: lookup, validation, price list and order figures (§16). Every method gets the use case's unit
    of work (`uow.db`, `uow.execute`, `uow.rows`), so what it writes commits with the use case."""

    async def get(self, uow: UnitOfWork, code: str) -> CustomerInfo | None: ...

    async def get_many(self, uow: UnitOfWork, codes: Sequence[str]) -> dict[str, CustomerInfo]: ...

    async def validate(self, uow: UnitOfWork, code: str) -> CustomerInfo:
        """The customer, if a session may name it. Errors: customer_not_found, customer_inactive."""
        ...

    async def price_list(self, uow: UnitOfWork, code: str) -> str | None: ...

    async def record_order(self, uow: UnitOfWork, code: str, order: OrderFigures) -> None:
        """Count the order in the customer's figures (or take it back out): idempotent per order."""
        ...

    async def upsert(self, uow: UnitOfWork, fields: Mapping[str, Any]) -> CustomerInfo:
        """Create or update from checked fields (see domain.customers). Errors: invalid_input."""
        ...

    async def search(self, uow: UnitOfWork, search: Any, *, first: int, after_id: int | None
                     ) -> tuple[list[CustomerInfo], bool]:
        """A page of customers, newest first, matching `search` (a domain.customers.Search, or None): (rows,
        has_next)."""
        ...


@dataclass(frozen=True)
class Availability:
    sku: str
    requested: Decimal
    available: Decimal

    @property
    def ok(self) -> bool:
        return self.available >= self.requested


@dataclass(frozen=True)
class Hold:
    hold_id: str
    sku: str
    qty: Decimal
    expires_at: dt.datetime


class StockBackend(Protocol):
    """Availability and holds of SKUs."""

    async def check_availability(self, db: AsyncSession, wanted: Mapping[str, Decimal]) -> list[Availability]: ...

    async def create_hold(
        self, db: AsyncSession, *, sku: str, qty: Decimal, reference: str, expires_at: dt.datetime
    ) -> Hold: ...

    async def release_hold(self, db: AsyncSession, hold_id: str) -> bool: ...

    async def fulfill_hold(self, db: AsyncSession, hold_id: str) -> bool:
        """Turn a hold into a sale (on-hand goes down). Already fulfilled is fine; returns False if it cannot."""
        ...

    async def release_holds_for_reference(self, db: AsyncSession, reference: str) -> int: ...

    async def restock_for_reference(self, db: AsyncSession, reference: str) -> list[tuple[str, Decimal]]:
        """Put back what the fulfilled holds of `reference` took, each hold once: (sku, qty) put back now."""
        ...

    async def get_alternatives(self, db: AsyncSession, sku: str) -> list[str]: ...

    async def levels(self, db: AsyncSession, skus: list[str] | None = None) -> list[tuple[str, Decimal, Decimal]]:
        """(sku, on_hand, held) of the given SKUs (all when None): what `stockLevels` and `setStockLevels` answer."""
        ...


@dataclass(frozen=True)
class PaymentResult:
    intent_id: str
    status: str  # "captured" | "refunded" | "failed" | "pending"
    amount_q: int
    already: bool = False  # the gateway had done it before: nothing was charged now
    detail: Mapping[str, Any] = field(default_factory=dict)


class PaymentBackend(Protocol):
    async def get_status(self, intent_id: str) -> str: ...

    async def capture(self, intent_id: str, amount_q: int, *, reference: str) -> PaymentResult: ...

    async def refund(self, intent_id: str, amount_q: int, *, reference: str) -> PaymentResult: ...


class Notifier(Protocol):
    async def send(self, *, topic: str, recipient: str, message: Mapping[str, Any]) -> None: ...


class DirectiveDispatcher(Protocol):
    """Hands committed directive ids to the task queue. Best effort: the sweeper catches what it misses."""

    async def dispatch(self, directive_ids: Sequence[int]) -> None: ...


class EventPublisher(Protocol):
    """Says "something new" to live subscribers, after commit. Best effort: subscribers replay from the database.
    One that also has `publish_many(messages)` (the pub/subs) gets a transaction's messages in one call."""

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None: ...


DirectiveHandler = Callable[["Hub", Any], Awaitable[Any]]
"""`async def handle(hub, directive) -> None`: must be idempotent; raising means "retry later"."""

"""Lookups and small helpers shared by the use cases (row loading with locks, channel rules, actor names)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..backends.price_table import PriceTable
from ..domain.draft import ChannelRules, PriceQuote
from ..errors import ErrorCode, OmnimanError
from ..models import Channel, Order, Session
from ..models.rows import ChannelRow, SessionRow
from ..uow import UnitOfWork


async def fetch_prices(hub: Any, uow: UnitOfWork, skus: Iterable[str], channel_code: str,
                       price_list: str | None = None) -> dict[str, PriceQuote]:
    """The pricing backend's quotes for `skus` (on `channel_code`, for a customer's `price_list`). A backend may
    answer plain ints (as the protocol documents) or PriceQuote objects (name included); modifiers always get
    PriceQuotes."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    backend = hub.registry.pricing
    # The protocol promises an ORM session; a backend that says so takes the unit of work itself (Core statements
    # through `execute`, no ORM session made for them).
    db = uow if getattr(backend, "takes_unit_of_work", False) else uow.db
    # Only asked of a backend when there is one: a backend written before price lists keeps working without them.
    answer = await (backend.get_prices(db, wanted, channel_code, price_list=price_list) if price_list
                    else backend.get_prices(db, wanted, channel_code))
    quotes: dict[str, PriceQuote] = {}
    for sku, value in (answer or {}).items():
        if isinstance(value, PriceQuote):
            quotes[sku] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            quotes[sku] = PriceQuote(unit_price_q=value)
    return quotes


@dataclass(frozen=True, slots=True)
class PricesAtHand:
    """The price table's quotes read with the session, for `asked`: the SKUs of the session's lines and those the
    ops name. A draft whose SKUs are all among them needs no price lookup of its own."""

    asked: frozenset[str]
    quotes: dict[str, PriceQuote]
    price_list: str | None = None  # the list they were resolved for (the session's customer's when read)

    def for_skus(self, skus: set[str], price_list: str | None = None) -> dict[str, PriceQuote] | None:
        """What `fetch_prices` would answer for `skus` with `price_list`, or None when some SKU was not asked for
        (or the ops changed the customer's list)."""
        if price_list != self.price_list or not skus <= self.asked:
            return None
        quotes = self.quotes
        return {sku: quotes[sku] for sku in sorted(skus) if sku in quotes}


def prices_read_with_session(hub: Any) -> bool:
    """Whether a modify asks for the prices with its session: with the shipped price table as the pricing backend
    (another backend answers for itself); the database reads them in the same statement where it can."""
    return type(hub.registry.pricing) is PriceTable


async def read_channel(uow: UnitOfWork, code: str) -> ChannelRow:
    """The channel's rules as a plain row, or `not_found`."""
    row = await uow.sessions.channel(code)
    if row is None:
        raise channel_not_found(code)
    return row


def rules_of(channel: Any, session: Any = None) -> ChannelRules:
    """The rules the pure code applies; a session keeps the policies it was opened with (§4), not today's channel's."""
    source = session if session is not None else channel
    return ChannelRules(code=channel.code, pricing_policy=source.pricing_policy, edit_policy=source.edit_policy,
                        currency=channel.currency, config=channel.config or {})


# The "does not exist" errors, also raised by the API for what a caller may not see: the answers must be identical.
def channel_not_found(code: str) -> OmnimanError:
    return OmnimanError(ErrorCode.NOT_FOUND, f"No channel {code!r}.", field=("channel_code",),
                        context={"channel_code": code})


def session_not_found(channel_code: str, session_key: str, code: ErrorCode = ErrorCode.NOT_FOUND) -> OmnimanError:
    return OmnimanError(code, f"No session {session_key!r} in channel {channel_code!r}.", field=("session_key",),
                        context={"channel_code": channel_code, "session_key": session_key})


def order_not_found(ref: str) -> OmnimanError:
    return OmnimanError(ErrorCode.NOT_FOUND, f"No order {ref!r}.", field=("ref",), context={"ref": ref})


def fulfillment_not_found(ref: str) -> OmnimanError:
    return OmnimanError(ErrorCode.NOT_FOUND, f"No fulfillment {ref!r}.", field=("fulfillment_ref",),
                        context={"fulfillment_ref": ref})


async def get_channel(db: AsyncSession, code: str) -> Channel:
    """The channel, or `not_found`."""
    channel = (await db.execute(_CHANNEL, {"code": code})).scalar_one_or_none()
    if channel is None:
        raise channel_not_found(code)
    return channel


async def lock_session(
    db: AsyncSession, channel_code: str, session_key: str, *, code: ErrorCode = ErrorCode.NOT_FOUND
) -> tuple[Session, Channel]:
    """The session row locked for update (a write lock on SQLite already), with its channel; or `code`."""
    row = (await db.execute(_LOCK_SESSION, {"channel_code": channel_code, "session_key": session_key})).one_or_none()
    if row is None:
        raise session_not_found(channel_code, session_key, code)
    return row[0], row[1]


_CHANNEL = select(Channel).where(col(Channel.code) == bindparam("code"))
# Every modify and commit runs it: built once (building the statement and its cache key cost more than sending it).
_LOCK_SESSION = (select(Session, Channel)
                 .join(Channel, col(Channel.code) == col(Session.channel_code))
                 .where(col(Session.channel_code) == bindparam("channel_code"),
                        col(Session.session_key) == bindparam("session_key"))
                 .with_for_update(of=Session))


async def lock_order(db: AsyncSession, ref: str) -> tuple[Order, Channel]:
    """The order row locked for update, with its channel; or `not_found`."""
    row = (await db.execute(
        select(Order, Channel).join(Channel, col(Channel.code) == col(Order.channel_code))
        .where(col(Order.ref) == ref).with_for_update(of=Order)
    )).one_or_none()
    if row is None:
        raise order_not_found(ref)
    return row[0], row[1]


def ensure_session_open(session: Session | SessionRow) -> None:
    if session.state == "committed":
        raise OmnimanError(ErrorCode.ALREADY_COMMITTED, "This session is already committed.",
                           field=("session_key",), context={"session_key": session.session_key})
    if session.state == "abandoned":
        raise OmnimanError(ErrorCode.ALREADY_ABANDONED, "This session was abandoned.",
                           field=("session_key",), context={"session_key": session.session_key})

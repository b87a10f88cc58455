"""Lookups and small helpers shared by the use cases (row loading with locks, channel rules, actor names)."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ..infra import pg_direct
from ..backends.price_table import PriceTable
from ..domain.draft import ChannelRules, PriceQuote
from ..errors import ErrorCode, OmnimanError
from ..models import Channel, Order, Price, Session


async def fetch_prices(hub: Any, db: AsyncSession | AsyncConnection, skus: Iterable[str], channel_code: str) -> dict[str, PriceQuote]:
    """The pricing backend's quotes for `skus`. A backend may answer plain ints (as the protocol documents) or
    PriceQuote objects (name included); modifiers always get PriceQuotes."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    backend = hub.registry.pricing
    if isinstance(db, AsyncConnection) and not getattr(backend, "takes_connection", False):
        # The protocol promises an ORM session: a backend not known to take a plain connection gets one on it.
        async with AsyncSession(bind=db) as session:
            answer = await backend.get_prices(session, wanted, channel_code)
    else:
        answer = await backend.get_prices(db, wanted, channel_code)
    quotes: dict[str, PriceQuote] = {}
    for sku, value in (answer or {}).items():
        if isinstance(value, PriceQuote):
            quotes[sku] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            quotes[sku] = PriceQuote(unit_price_q=value)
    return quotes


@dataclass(slots=True)
class SessionRow:
    """A sessions row as plain values, for the checkout's Core paths (no ORM instance to build, track or flush).
    Same attribute names as `models.Session`, so whatever reads a session reads either."""

    id: int
    channel_code: str
    session_key: str
    handle_type: str | None
    handle_ref: str | None
    open_handle: str | None
    state: str
    pricing_policy: str
    edit_policy: str
    rev: int
    items: list[dict[str, Any]]
    data: dict[str, Any]
    pricing: dict[str, Any]
    pricing_trace: list[dict[str, Any]]
    opened_at: Any
    updated_at: Any
    committed_at: Any
    commit_token: str | None


SESSION_COLUMNS = tuple(SessionRow.__dataclass_fields__)
_SESSIONS = Session.__table__  # type: ignore[attr-defined]
_CHANNELS = Channel.__table__  # type: ignore[attr-defined]
# The channel as the checkout's use cases read it (their rules), with Core: attribute access like `models.Channel`,
# without an ORM instance, and without the columns they never read (each costs a column description per query
# and, for timestamps, a conversion per row).
ChannelRow = namedtuple("ChannelRow", ["code", "pricing_policy", "edit_policy", "currency", "is_active", "config"])
_CHANNEL_COLUMNS = [_CHANNELS.c[name] for name in ChannelRow._fields]


def session_and_channel_columns() -> list[Any]:
    """The columns `split_session_row` reads back: a SessionRow's, then a ChannelRow's."""
    return [*(_SESSIONS.c[name] for name in SESSION_COLUMNS), *_CHANNEL_COLUMNS]


def split_session_row(row: Any) -> tuple[SessionRow, Any]:
    split = len(SESSION_COLUMNS)
    return SessionRow(*row[:split]), ChannelRow(*row[split:split + len(ChannelRow._fields)])


def _session_and_channel(*, lock: bool) -> Any:
    statement = (select(*session_and_channel_columns())
                 .join_from(_SESSIONS, _CHANNELS, _CHANNELS.c.code == _SESSIONS.c.channel_code)
                 .where(_SESSIONS.c.channel_code == bindparam("channel_code"),
                        _SESSIONS.c.session_key == bindparam("session_key")))
    return statement.with_for_update(of=_SESSIONS) if lock else statement


# Built once: every modify and commit runs one of them (building a statement and its cache key costs more than
# sending it).
_SESSION_CHANNEL_LOCKED = _session_and_channel(lock=True)
_SESSION_CHANNEL = _session_and_channel(lock=False)
_CHANNEL_CORE = select(*_CHANNEL_COLUMNS).where(_CHANNELS.c.code == bindparam("code"))


async def read_session(
    connection: AsyncConnection, channel_code: str, session_key: str, *, lock: bool
) -> tuple[SessionRow, Any] | None:
    """The session (locked for update when `lock`: a write lock on SQLite already) and its channel, as plain rows;
    None when there is no such session."""
    statement = _SESSION_CHANNEL_LOCKED if lock else _SESSION_CHANNEL
    row = (await pg_direct.execute(connection, statement, {"channel_code": channel_code,
                                                            "session_key": session_key})).first()
    return None if row is None else split_session_row(row)


@dataclass(frozen=True, slots=True)
class PricesAtHand:
    """The price table's quotes read with the session, for `asked`: the SKUs of the session's lines and those the
    ops name. A draft whose SKUs are all among them needs no price lookup of its own."""

    asked: frozenset[str]
    quotes: dict[str, PriceQuote]

    def for_skus(self, skus: set[str]) -> dict[str, PriceQuote] | None:
        """What `fetch_prices` would answer for `skus`, or None when some SKU was not asked for."""
        if not skus <= self.asked:
            return None
        quotes = self.quotes
        return {sku: quotes[sku] for sku in sorted(skus) if sku in quotes}


_PRICES = Price.__table__  # type: ignore[attr-defined]


def _session_channel_and_prices() -> Any:
    """PostgreSQL: the session and its channel (as `_SESSION_CHANNEL`) plus, for an internally priced session, the
    price rows of its lines' SKUs and of the `skus` given, as one JSON array of [sku, unit_price_q, name]: a modify's
    two reads in one round trip."""
    # The SKUs of THIS session's lines (correlated to the outer row: uncorrelated, it read every session's lines,
    # a scan of the whole table once the price table held a SKU not asked for), as one array with the `skus` given,
    # so the price table is read by its key.
    line_skus = (select(func.json_array_elements(_SESSIONS.c["items"]).op("->>")(literal_column("'sku'")))
                 .correlate(_SESSIONS).scalar_subquery())
    wanted = func.array_cat(bindparam("skus", type_=ARRAY(_PRICES.c.sku.type)), func.array(line_skus))
    quotes = (select(func.json_agg(func.json_build_array(_PRICES.c.sku, _PRICES.c.unit_price_q, _PRICES.c.name)))
              .where(_PRICES.c.sku == any_(wanted))
              .scalar_subquery())
    return (select(*session_and_channel_columns(),
                   case((_SESSIONS.c.pricing_policy == "internal", quotes), else_=None).label("quotes"))
            .join_from(_SESSIONS, _CHANNELS, _CHANNELS.c.code == _SESSIONS.c.channel_code)
            .where(_SESSIONS.c.channel_code == bindparam("channel_code"),
                   _SESSIONS.c.session_key == bindparam("session_key")))


_SESSION_CHANNEL_PRICES = _session_channel_and_prices()


def prices_read_with_session(hub: Any, connection: AsyncConnection) -> bool:
    """Whether a modify reads its prices with its session: on PostgreSQL, with the shipped price table as the
    pricing backend (another backend answers for itself)."""
    return connection.dialect.name == "postgresql" and type(hub.registry.pricing) is PriceTable


async def read_session_and_prices(
    connection: AsyncConnection, channel_code: str, session_key: str, skus: Iterable[str]
) -> tuple[SessionRow, Any, PricesAtHand | None] | None:
    """`read_session` (no lock) and, for an internally priced session, the price table's quotes of its lines' SKUs
    and of `skus`, in one statement (PostgreSQL, the price table's backend: see `prices_read_with_session`)."""
    wanted = sorted(set(skus))
    row = (await pg_direct.execute(connection, _SESSION_CHANNEL_PRICES, {
        "channel_code": channel_code, "session_key": session_key, "skus": wanted})).first()
    if row is None:
        return None
    session, channel = split_session_row(row)
    if session.pricing_policy != "internal":
        return session, channel, None
    asked = frozenset(wanted).union(line["sku"] for line in session.items)
    quotes = {sku: PriceQuote(unit_price_q=price, name=name) for sku, price, name in row.quotes or ()}
    return session, channel, PricesAtHand(asked, quotes)


async def read_channel(connection: AsyncConnection, code: str) -> Any:
    """The channel's rules as a plain row (a ChannelRow), or `not_found`."""
    row = (await pg_direct.execute(connection, _CHANNEL_CORE, {"code": code})).first()
    if row is None:
        raise channel_not_found(code)
    return ChannelRow(*row)


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


_CHANNEL = select(Channel).where(Channel.code == bindparam("code"))  # type: ignore[arg-type]
# Every modify and commit runs it: built once (building the statement and its cache key cost more than sending it).
_LOCK_SESSION = (select(Session, Channel)
                 .join(Channel, Channel.code == Session.channel_code)  # type: ignore[arg-type]
                 .where(Session.channel_code == bindparam("channel_code"),  # type: ignore[arg-type]
                        Session.session_key == bindparam("session_key"))  # type: ignore[arg-type]
                 .with_for_update(of=Session))


async def lock_order(db: AsyncSession, ref: str) -> tuple[Order, Channel]:
    """The order row locked for update, with its channel; or `not_found`."""
    row = (await db.execute(
        select(Order, Channel).join(Channel, Channel.code == Order.channel_code)
        .where(Order.ref == ref).with_for_update(of=Order)
    )).one_or_none()
    if row is None:
        raise order_not_found(ref)
    return row[0], row[1]


def ensure_session_open(session: Session) -> None:
    if session.state == "committed":
        raise OmnimanError(ErrorCode.ALREADY_COMMITTED, "This session is already committed.",
                           field=("session_key",), context={"session_key": session.session_key})
    if session.state == "abandoned":
        raise OmnimanError(ErrorCode.ALREADY_ABANDONED, "This session was abandoned.",
                           field=("session_key",), context={"session_key": session.session_key})

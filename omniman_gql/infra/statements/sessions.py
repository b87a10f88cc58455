"""Session statements of the checkout: read (and lock) a session with its channel, open one, write a draft."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, case, cast, func, literal_column, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ...domain.draft import PriceQuote
from ...domain.ops import customer_of
from ...domain.pricing import ANY, resolve_prices
from ...models import Channel, Price, Session
from ...models.rows import SESSION_COLUMNS, ChannelRow, SessionRow
from ...uow import Values

SESSIONS = Session.__table__  # type: ignore[attr-defined]
CHANNELS = Channel.__table__  # type: ignore[attr-defined]
_PRICES = Price.__table__  # type: ignore[attr-defined]
# Only the channel columns the checkout reads: each costs a column description per query and, for timestamps, a
# conversion per row.
_CHANNEL_COLUMNS = [CHANNELS.c[name] for name in ChannelRow._fields]


def session_and_channel_columns() -> list[Any]:
    """The columns `split_session_row` reads back: a SessionRow's, then a ChannelRow's."""
    return [*(SESSIONS.c[name] for name in SESSION_COLUMNS), *_CHANNEL_COLUMNS]


def split_session_row(row: Any) -> tuple[SessionRow, ChannelRow]:
    split = len(SESSION_COLUMNS)
    return SessionRow(*row[:split]), ChannelRow(*row[split:split + len(ChannelRow._fields)])


def _session_and_channel(*, lock: bool) -> Any:
    statement = (select(*session_and_channel_columns())
                 .join_from(SESSIONS, CHANNELS, CHANNELS.c.code == SESSIONS.c.channel_code)
                 .where(SESSIONS.c.channel_code == bindparam("channel_code"),
                        SESSIONS.c.session_key == bindparam("session_key")))
    return statement.with_for_update(of=SESSIONS) if lock else statement


# Built once: every modify and commit runs one of them (building a statement and its cache key costs more than
# sending it).
SESSION_CHANNEL_LOCKED = _session_and_channel(lock=True)
SESSION_CHANNEL = _session_and_channel(lock=False)
CHANNEL = select(*_CHANNEL_COLUMNS).where(CHANNELS.c.code == bindparam("code"))
# The rev and state conditions make it a no-op when someone else got there first.
WRITE_DRAFT = (update(SESSIONS)
               .where(SESSIONS.c.id == bindparam("b_id"), SESSIONS.c.rev == bindparam("b_rev"),
                      SESSIONS.c.state == "open")
               .values(items=bindparam("b_items"), data=bindparam("b_data"), pricing=bindparam("b_pricing"),
                       pricing_trace=bindparam("b_pricing_trace"), rev=bindparam("b_new_rev"),
                       updated_at=bindparam("b_now")))
_OPENED_COLUMNS = ("channel_code", "session_key", "handle_type", "handle_ref", "open_handle", "state", "rev", "items",
                   "data", "pricing", "pricing_trace", "opened_at", "updated_at")


def _open_statement(insert: Any, *, typed: bool) -> Any:
    """The one-statement open: INSERT … SELECT the channel's policies (an active channel only) … ON CONFLICT DO
    NOTHING RETURNING. `typed`: PostgreSQL types the parameters of a SELECT list from their casts (a bare NULL or text
    would not go into a json or timestamptz column); SQLite must not cast (CAST(… AS JSON) would mean NUMERIC)."""
    params = [bindparam(f"b_{name}", type_=SESSIONS.c[name].type) for name in _OPENED_COLUMNS]
    params = [cast(param, param.type) for param in params] if typed else params
    source = (select(*params, CHANNELS.c.pricing_policy, CHANNELS.c.edit_policy)
              .where(CHANNELS.c.code == bindparam("b_channel_code"), CHANNELS.c.is_active.is_(true())))
    return (insert(SESSIONS).on_conflict_do_nothing()
            .from_select([*_OPENED_COLUMNS, "pricing_policy", "edit_policy"], source)
            .returning(SESSIONS.c.id, SESSIONS.c.pricing_policy, SESSIONS.c.edit_policy))


class SessionStatements:
    """Both databases: SQLAlchemy Core on the unit of work's connection."""

    __slots__ = ("_uow",)
    _open: Any = None

    def __init__(self, uow: Any) -> None:
        self._uow = uow

    async def read(self, channel_code: str, session_key: str, *, lock: bool) -> tuple[SessionRow, ChannelRow] | None:
        row = (await self._uow.run(SESSION_CHANNEL_LOCKED if lock else SESSION_CHANNEL, {
            "channel_code": channel_code, "session_key": session_key})).first()
        return None if row is None else split_session_row(row)

    async def read_with_prices(
        self, channel_code: str, session_key: str, skus: Sequence[str]
    ) -> tuple[SessionRow, ChannelRow, dict[str, PriceQuote] | None] | None:
        found = await self.read(channel_code, session_key, lock=False)
        return None if found is None else (*found, None)

    async def channel(self, code: str) -> ChannelRow | None:
        row = (await self._uow.run(CHANNEL, {"code": code})).first()
        return None if row is None else ChannelRow(*row)

    async def insert_open(self, values: Values) -> tuple[int, str, str] | None:
        row = (await self._uow.run(self._open, {f"b_{name}": value for name, value in values.items()})).first()
        return None if row is None else (row.id, row.pricing_policy, row.edit_policy)

    async def write_draft(self, session_id: int, rev: int, *, items: Any, data: Any, pricing: Any,
                          pricing_trace: Any, now: dt.datetime) -> bool:
        written = await self._uow.run(WRITE_DRAFT, {
            "b_id": session_id, "b_rev": rev, "b_items": items, "b_data": data, "b_pricing": pricing,
            "b_pricing_trace": pricing_trace, "b_new_rev": rev + 1, "b_now": now})
        return written.rowcount == 1  # type: ignore[no-any-return]


class SqliteSessionStatements(SessionStatements):
    __slots__ = ()
    _open = _open_statement(sqlite_insert, typed=False)


def _session_channel_and_prices() -> Any:
    """The session and its channel (as SESSION_CHANNEL) plus, for an internally priced session, the price rows of
    its lines' SKUs and of the `skus` given, as one JSON array of [sku, channel_code, price_list, unit_price_q,
    name]: a modify's two reads in one round trip."""
    # The SKUs of THIS session's lines (correlated to the outer row: uncorrelated, it read every session's lines,
    # a scan of the whole table once the price table held a SKU not asked for), as one array with the `skus` given,
    # so the price table is read by its key.
    line_skus = (select(func.json_array_elements(SESSIONS.c["items"]).op("->>")(literal_column("'sku'")))
                 .correlate(SESSIONS).scalar_subquery())
    wanted = func.array_cat(bindparam("skus", type_=ARRAY(_PRICES.c.sku.type)), func.array(line_skus))
    # Rows of this channel or of any, of every price list: the session's customer's list is picked in Python.
    quotes = (select(func.json_agg(func.json_build_array(_PRICES.c.sku, _PRICES.c.channel_code, _PRICES.c.price_list,
                                                         _PRICES.c.unit_price_q, _PRICES.c.name)))
              .where(_PRICES.c.sku == any_(wanted), _PRICES.c.channel_code.in_([ANY, bindparam("channel_code")]))
              .scalar_subquery())
    return (select(*session_and_channel_columns(),
                   case((SESSIONS.c.pricing_policy == "internal", quotes), else_=None).label("quotes"))
            .join_from(SESSIONS, CHANNELS, CHANNELS.c.code == SESSIONS.c.channel_code)
            .where(SESSIONS.c.channel_code == bindparam("channel_code"),
                   SESSIONS.c.session_key == bindparam("session_key")))


_SESSION_CHANNEL_PRICES = _session_channel_and_prices()


class PgSessionStatements(SessionStatements):
    __slots__ = ()
    _open = _open_statement(pg_insert, typed=True)

    async def read_with_prices(
        self, channel_code: str, session_key: str, skus: Sequence[str]
    ) -> tuple[SessionRow, ChannelRow, dict[str, PriceQuote] | None] | None:
        row = (await self._uow.run(_SESSION_CHANNEL_PRICES, {
            "channel_code": channel_code, "session_key": session_key, "skus": sorted(set(skus))})).first()
        if row is None:
            return None
        session, channel = split_session_row(row)
        if session.pricing_policy != "internal":
            return session, channel, None
        customer = customer_of(session.data)
        return session, channel, resolve_prices(row.quotes or (), channel_code,
                                                customer.get("price_list") if customer else None)

"""Order search: which orders a locator names, as one indexed sub-select (equality on normalised values, a prefix
on customers' folded names), combined by the caller with its filters and keyset page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, select, union

from ..domain.customers import digits_of, fold, parse_search
from ..errors import ErrorCode, OmnimanError
from ..models import Customer, Order, Ref, table_of

ORDERS = table_of(Order)
REFS = table_of(Ref)
CUSTOMERS = table_of(Customer)
MAX_SEARCH = 200
MIN_PHONE_DIGITS = 6
MAX_IDS = 5_000


def check_search(value: Any) -> str | None:
    """The search text, trimmed; None for none. Errors: invalid_input (over 200 characters)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_SEARCH:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"`search` is at most {MAX_SEARCH} characters.",
                           field=("search",))
    return value.strip() or None


def matching_order_ids(text: str) -> Any:
    """Ids of the orders `text` names: its order ref, external ref or handle ref; a ref value it holds or its
    session held (ticket, table, tab, platform id…); its customer's phone digits or the start of the customer's name.
    Each arm is an equality (or a prefix) on an indexed column, so the union reads only matching rows, never a scan
    of every order (see bench/search.py)."""
    upper = text.upper()
    arms = [
        select(ORDERS.c.id).where(ORDERS.c.ref == upper),
        select(ORDERS.c.id).where(ORDERS.c.external_ref == text),
        select(ORDERS.c.id).where(ORDERS.c.handle_ref == text),
        select(ORDERS.c.id).join(REFS, REFS.c.order_ref == ORDERS.c.ref).where(REFS.c.value == upper),
        select(ORDERS.c.id).join(REFS, and_(REFS.c.channel_code == ORDERS.c.channel_code,
                                            REFS.c.session_key == ORDERS.c.session_key))
        .where(REFS.c.value == upper, REFS.c.order_ref.is_(None)),
    ]
    wanted = parse_search(text)
    if wanted is not None:
        customers = [_name_starts(fold(text))]
        digits = digits_of(text)
        if wanted.digits and len(digits) >= MIN_PHONE_DIGITS:
            customers = [CUSTOMERS.c.phone_digits == digits]
        for match in customers:
            arms.append(select(ORDERS.c.id).where(ORDERS.c.customer_code.in_(
                select(CUSTOMERS.c.code).where(match))))
    return union(*arms)


def _name_starts(key: str) -> Any:
    """`name_key` starts with `key`: LIKE keeps it exact, and a range on the indexed column lets both databases seek
    instead of scanning every customer (SQLite's LIKE is case-blind, so its index never serves a LIKE; PostgreSQL's
    serves one only under the C collation). The range is added when the key ends in a letter or digit, where every
    collation orders `key…` between `key` and `key` with its last character's successor."""
    like = CUSTOMERS.c.name_key.startswith(key, autoescape=True)
    if not key[-1].isalnum():
        return like
    return and_(CUSTOMERS.c.name_key >= key, CUSTOMERS.c.name_key < key[:-1] + chr(ord(key[-1]) + 1), like)


async def search_condition(uow: Any, text: str) -> Any:
    """The condition limiting orders to those `text` names. The matching ids are read first (the union's indexed
    arms) and given as a list, so each database looks those orders up by primary key and sorts the few: with
    `id IN (sub-select)` SQLite walks an order index newest first and tests every order, a full scan when the search
    finds little. A search naming more than MAX_IDS orders keeps the sub-select (rare: a very common name start)."""
    ids = list((await uow.execute(select(matching_order_ids(text).subquery("hits").c.id).limit(MAX_IDS + 1)))
               .scalars())
    if not ids:
        return false()
    if len(ids) > MAX_IDS:
        return ORDERS.c.id.in_(matching_order_ids(text))
    return ORDERS.c.id.in_(ids)

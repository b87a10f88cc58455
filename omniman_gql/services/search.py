"""Order search: which orders a locator names, as one indexed sub-select (equality on normalised values, a prefix
on customers' folded names), combined by the caller with its filters and keyset page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, union

from ..domain.customers import digits_of, fold, parse_search
from ..errors import ErrorCode, OmnimanError
from ..models import Customer, Order, Ref, table_of

ORDERS = table_of(Order)
REFS = table_of(Ref)
CUSTOMERS = table_of(Customer)
MAX_SEARCH = 200
MIN_PHONE_DIGITS = 6


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
        customers = [CUSTOMERS.c.name_key.startswith(fold(text), autoescape=True)]
        digits = digits_of(text)
        if wanted.digits and len(digits) >= MIN_PHONE_DIGITS:
            customers = [CUSTOMERS.c.phone_digits == digits]
        for match in customers:
            arms.append(select(ORDERS.c.id).where(ORDERS.c.customer_code.in_(
                select(CUSTOMERS.c.code).where(match))))
    return union(*arms)

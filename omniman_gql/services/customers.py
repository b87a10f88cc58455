"""Use cases of customers: upsert (the phone as natural key), lookups and search, through the customer backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..domain.customers import check_customer_input, parse_search
from ..errors import ErrorCode, OmnimanError
from ..protocols import CustomerInfo
from ..runtime import Hub

MAX_CODES = 1000


async def upsert_customer(hub: Hub, fields: Mapping[str, Any]) -> CustomerInfo:
    """Create or update a customer. A code given and existing: the fields given change. No code but a phone an
    existing customer has (compared by its digits): that customer is updated, also under concurrency (a unique
    index decides). Otherwise a new customer, its code generated when not given.

    Errors: invalid_input (bounds and formats of every field, a phone of another customer, a new customer with
    neither name, phone nor e-mail).
    """
    clean = check_customer_input(dict(fields))
    try:
        async with hub.transaction() as uow:
            return await hub.registry.customers.upsert(uow, clean)
    except IntegrityError:
        # A concurrent call took the code or the phone between the backend's check and its write. Answered as
        # input, never as an internal error: the database's message names the conflicting value, and internal
        # errors are logged.
        raise OmnimanError(ErrorCode.INVALID_INPUT, "Another call saved a customer with this code or phone at the "
                           "same moment; try again.", field=("phone",) if "phone" in clean else ("code",)) from None


async def get_customer(hub: Hub, code: str) -> CustomerInfo | None:
    async with hub.transaction(readonly=True) as uow:
        return await hub.registry.customers.get(uow, code)


async def customers_by_codes(hub: Hub, codes: Sequence[str]) -> dict[str, CustomerInfo]:
    """Customers by code, for dataloaders (unknown codes are left out)."""
    async with hub.transaction(readonly=True) as uow:
        return await hub.registry.customers.get_many(uow, list(codes)[:MAX_CODES])


async def customer_page(hub: Hub, *, search: str | None, first: int, after_id: int | None
                        ) -> tuple[list[CustomerInfo], bool]:
    """Customers newest first, matching `search`: a fragment of the name (case and accents ignored), phone digits
    (formatting ignored), an e-mail or a code. Errors: invalid_input (a search over 200 characters)."""
    wanted = parse_search(search)
    async with hub.transaction(readonly=True) as uow:
        return await hub.registry.customers.search(uow, wanted, first=first, after_id=after_id)

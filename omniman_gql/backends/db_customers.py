"""Customer backend over the `customers` table: lookups, the phone as natural key, search and order figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import false, func, or_, select, update

from .. import ids
from ..domain.customers import Search, stored_columns
from ..errors import ErrorCode, OmnimanError
from ..models import Customer, CustomerOrder, table_of, utcnow
from ..protocols import CustomerInfo, OrderFigures

CUSTOMERS = table_of(Customer)
COUNTED = table_of(CustomerOrder)
_INFO_FIELDS = ("code", "name", "phone", "email", "tax_id", "price_list", "notes", "is_active", "orders_count",
                "total_spent_q", "last_order_at", "id")


def info_of(row: Any) -> CustomerInfo:
    return CustomerInfo(tags=tuple(row.tags or ()), **{name: getattr(row, name) for name in _INFO_FIELDS})


def customer_not_found(code: str, field: tuple[str | int, ...] = ("code",)) -> OmnimanError:
    return OmnimanError(ErrorCode.CUSTOMER_NOT_FOUND, f"No customer {code!r}.", field=field, context={"code": code})


class DatabaseCustomers:
    """The shipped customer backend (OMNIMAN_CUSTOMER_BACKEND=database)."""

    async def get(self, uow: Any, code: str) -> CustomerInfo | None:
        row = (await uow.execute(select(CUSTOMERS).where(CUSTOMERS.c.code == code))).first()
        return None if row is None else info_of(row)

    async def get_many(self, uow: Any, codes: Sequence[str]) -> dict[str, CustomerInfo]:
        rows = await uow.execute(select(CUSTOMERS).where(CUSTOMERS.c.code.in_(sorted(set(codes)))))
        return {row.code: info_of(row) for row in rows}

    async def validate(self, uow: Any, code: str) -> CustomerInfo:
        found = await self.get(uow, code)
        if found is None:
            raise customer_not_found(code)
        if not found.is_active:
            raise OmnimanError(ErrorCode.CUSTOMER_INACTIVE, f"Customer {code!r} is not active.", field=("code",),
                               context={"code": code})
        return found

    async def price_list(self, uow: Any, code: str) -> str | None:
        found = await self.get(uow, code)
        return None if found is None else found.price_list

    async def record_order(self, uow: Any, code: str, order: OrderFigures) -> None:
        # The customer's row first, locked: two orders of one customer recorded at once are counted one after the
        # other, so neither recount misses the other's order.
        locked = (await uow.execute(select(CUSTOMERS.c.id).where(CUSTOMERS.c.code == code).with_for_update())).first()
        if locked is None:
            return  # no such customer (any more): nothing to count
        now = utcnow()
        await uow.rows.insert_missing(COUNTED, [{
            "order_ref": order.order_ref, "customer_code": code, "total_q": order.total_q,
            "ordered_at": order.ordered_at, "counted": order.counted, "updated_at": now}])
        await uow.execute(update(COUNTED).where(COUNTED.c.order_ref == order.order_ref)
                          .values(counted=order.counted, updated_at=now))
        # Recounted from the orders counted, never incremented: running twice, or out of order, lands the same.
        counted = COUNTED.c.counted.is_(True)
        figures = (await uow.execute(
            select(func.count(), func.coalesce(func.sum(COUNTED.c.total_q), 0), func.max(COUNTED.c.ordered_at))
            .where(COUNTED.c.customer_code == code, counted))).one()
        await uow.execute(update(CUSTOMERS).where(CUSTOMERS.c.code == code).values(
            orders_count=figures[0], total_spent_q=int(figures[1]), last_order_at=figures[2], updated_at=now))

    async def upsert(self, uow: Any, fields: Mapping[str, Any]) -> CustomerInfo:
        code = fields.get("code")
        columns = stored_columns(dict(fields))
        now = utcnow()
        digits = columns.get("phone_digits")
        if code is not None:
            existing = (await uow.execute(select(CUSTOMERS).where(CUSTOMERS.c.code == code).with_for_update())
                        ).first()
            if digits:
                await self._phone_free(uow, digits, code)
            if existing is None:
                _new_customer_needs_something(columns)
                if await uow.rows.insert_new(CUSTOMERS, _new_row(code, columns, now)) is None:
                    await self._phone_free(uow, digits, code)  # taken meanwhile: say by whom
                    raise customer_taken(code)
            elif columns:
                await uow.execute(update(CUSTOMERS).where(CUSTOMERS.c.code == code).values(**columns, updated_at=now))
            return await self._read(uow, CUSTOMERS.c.code == code)
        _new_customer_needs_something(columns)
        if not digits:
            new_code = ids.customer_code()
            await uow.rows.insert_new(CUSTOMERS, _new_row(new_code, columns, now))
            return await self._read(uow, CUSTOMERS.c.code == new_code)
        # The phone is the natural key: INSERT … ON CONFLICT DO NOTHING, then the row holding the phone, locked, takes
        # the fields given. The unique index decides between concurrent upserts of one phone, not a prior read.
        await uow.rows.insert_missing(CUSTOMERS, [_new_row(ids.customer_code(), columns, now)])
        holder = (await uow.execute(select(CUSTOMERS.c.code).where(CUSTOMERS.c.phone_digits == digits)
                                    .with_for_update())).scalar_one()
        await uow.execute(update(CUSTOMERS).where(CUSTOMERS.c.code == holder).values(**columns, updated_at=now))
        return await self._read(uow, CUSTOMERS.c.code == holder)

    async def search(self, uow: Any, search: Search | None, *, first: int, after_id: int | None
                     ) -> tuple[list[CustomerInfo], bool]:
        conditions = [] if after_id is None else [CUSTOMERS.c.id < after_id]
        if search is not None:
            matches = [CUSTOMERS.c.code == search.text, CUSTOMERS.c.name_key.contains(search.name, autoescape=True)]
            if search.digits:
                matches.append(CUSTOMERS.c.phone_digits.contains(search.digits, autoescape=True))
            if search.email:
                matches.append(CUSTOMERS.c.email.contains(search.email, autoescape=True))
            conditions.append(or_(false(), *matches))
        rows = list(await uow.execute(select(CUSTOMERS).where(*conditions).order_by(CUSTOMERS.c.id.desc())
                                      .limit(first + 1)))
        return [info_of(row) for row in rows[:first]], len(rows) > first

    async def _read(self, uow: Any, where: Any) -> CustomerInfo:
        return info_of((await uow.execute(select(CUSTOMERS).where(where))).one())

    async def _phone_free(self, uow: Any, digits: str | None, code: str) -> None:
        if not digits:
            return
        holder = (await uow.execute(select(CUSTOMERS.c.code).where(CUSTOMERS.c.phone_digits == digits))).scalar()
        if holder is not None and holder != code:
            raise OmnimanError(ErrorCode.INVALID_INPUT, f"This phone belongs to customer {holder!r}.",
                               field=("phone",), context={"code": holder})


def customer_taken(code: str) -> OmnimanError:
    return OmnimanError(ErrorCode.INVALID_INPUT, f"Customer {code!r} was just created by another call; try again.",
                        field=("code",), context={"code": code})


def _new_customer_needs_something(columns: Mapping[str, Any]) -> None:
    if not any(columns.get(name) for name in ("name", "phone", "email")):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "A new customer needs a name, a phone or an e-mail.",
                           field=("name",))


def _new_row(code: str, columns: Mapping[str, Any], now: Any) -> dict[str, Any]:
    return {"name": "", "name_key": "", "phone": None, "phone_digits": None, "email": None, "tax_id": None,
            "price_list": None, "notes": None, "tags": [], "is_active": True, "orders_count": 0, "total_spent_q": 0,
            "last_order_at": None, **columns, "code": code, "created_at": now, "updated_at": now}


class NoCustomers:
    """No customer directory (OMNIMAN_CUSTOMER_BACKEND=none): sessions cannot name customers, nothing is counted."""

    async def get(self, uow: Any, code: str) -> CustomerInfo | None:
        return None

    async def get_many(self, uow: Any, codes: Sequence[str]) -> dict[str, CustomerInfo]:
        return {}

    async def validate(self, uow: Any, code: str) -> CustomerInfo:
        raise customer_not_found(code)

    async def price_list(self, uow: Any, code: str) -> str | None:
        return None

    async def record_order(self, uow: Any, code: str, order: OrderFigures) -> None:
        return None

    async def upsert(self, uow: Any, fields: Mapping[str, Any]) -> CustomerInfo:
        raise OmnimanError(ErrorCode.INVALID_INPUT, "This hub keeps no customers (OMNIMAN_CUSTOMER_BACKEND=none).",
                           field=())

    async def search(self, uow: Any, search: Any, *, first: int, after_id: int | None
                     ) -> tuple[list[CustomerInfo], bool]:
        return [], False

"""Helpers for service tests: counting and reading rows, and asserting on a raised OmnimanError."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.runtime import Hub

T = TypeVar("T")


async def count(hub: Hub, model: Any, *where: Any) -> int:
    """How many rows of `model` match `where`, read in a fresh transaction."""
    async with hub.transaction(readonly=True) as uow:
        return int((await uow.db.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def rows(hub: Hub, model: Any, *where: Any, order_by: Any = None) -> list[Any]:
    async with hub.transaction(readonly=True) as uow:
        query = select(model).where(*where)
        if order_by is not None:
            query = query.order_by(order_by)
        return list((await uow.db.execute(query)).scalars())


async def raises(code: ErrorCode | str, call: Awaitable[Any]) -> OmnimanError:
    """Await `call`, which must fail with `code`; return the error for further assertions."""
    with pytest.raises(OmnimanError) as info:
        await call
    assert info.value.code == code, f"expected {code}, got {info.value!r} context={info.value.context}"
    return info.value


def codes(exc: OmnimanError) -> list[str]:
    return [e.code.value for e in exc.errors()]

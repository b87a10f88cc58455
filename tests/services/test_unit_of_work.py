"""Hub.transaction, the one unit of work: its ORM session and its Core statements share one transaction, committed
(pending ORM changes included) or rolled back together; autocommit statements commit one by one; after-commit work
waits for the commit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import select, update

from omniman_gql.models import Channel, Price
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, sessions
from tests.factories import make_channel

pytestmark = pytest.mark.anyio

_CHANNELS = Channel.__table__  # type: ignore[attr-defined]


class Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Mapping[str, Any]]] = []

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        self.sent.append((topic, message))


async def _name(hub: Hub, code: str) -> str | None:
    async with hub.transaction(readonly=True) as uow:
        return (await uow.execute(select(_CHANNELS.c.name).where(_CHANNELS.c.code == code))).scalar_one_or_none()


async def test_orm_and_core_statements_share_one_transaction(hub: Hub) -> None:
    with pytest.raises(RuntimeError):
        async with hub.transaction() as uow:
            uow.db.add(Channel(code="orm-made", name="ORM", currency="BRL"))
            await uow.db.flush()
            seen = (await uow.execute(select(_CHANNELS.c.name).where(_CHANNELS.c.code == "orm-made"))).scalar_one()
            assert seen == "ORM"  # the Core statement sees the ORM's write: one connection, one transaction
            raise RuntimeError("use case failed")
    assert await _name(hub, "orm-made") is None  # rolled back together


async def test_pending_orm_changes_are_written_at_commit(hub: Hub) -> None:
    code = await make_channel(hub)
    async with hub.transaction() as uow:
        channel = (await uow.db.execute(select(Channel).where(Channel.code == code))).scalar_one()  # type: ignore
        channel.name = "renamed, never flushed by the use case"
    assert await _name(hub, code) == "renamed, never flushed by the use case"
    assert channel.name == "renamed, never flushed by the use case"  # still readable after the unit ended


async def test_autocommit_statements_commit_one_by_one_and_after_commit_work_waits_for_the_end(hub: Hub) -> None:
    code = await make_channel(hub)
    publisher = Recording()
    hub.publisher = publisher
    with pytest.raises(RuntimeError):
        async with hub.transaction(autocommit=True) as uow:
            await uow.execute(update(_CHANNELS).where(_CHANNELS.c.code == code).values(name="kept"))
            uow.publish("t", {"n": 1})
            raise RuntimeError("use case failed after its write")
    assert await _name(hub, code) == "kept"  # the statement had committed by itself
    assert publisher.sent == []  # the block failed: nothing announced
    async with hub.transaction(autocommit=True) as uow:
        uow.publish("t", {"n": 2})
        assert publisher.sent == []
    assert publisher.sent == [("t", {"n": 2})]


async def test_a_failed_transaction_publishes_nothing(hub: Hub) -> None:
    publisher = Recording()
    hub.publisher = publisher
    with pytest.raises(RuntimeError):
        async with hub.transaction() as uow:
            uow.publish("t", {"n": 1})
            raise RuntimeError("use case failed")
    async with hub.transaction() as uow:
        uow.publish("t", {"n": 2})
    assert publisher.sent == [("t", {"n": 2})]


async def test_an_autocommit_unit_has_no_read_only_form(hub: Hub) -> None:
    with pytest.raises(ValueError, match="autocommit"):
        async with hub.transaction(readonly=True, autocommit=True):
            pass


class OrmPricing:
    """A pricing backend as the protocol promises it: it gets an ORM session and reads with the ORM."""

    async def get_prices(self, db: Any, skus: Any, channel_code: str) -> dict[str, int]:
        rows = (await db.execute(select(Price).where(Price.sku.in_(list(skus))))).scalars()  # type: ignore
        return {row.sku: row.unit_price_q + 1 for row in rows}


async def test_a_pricing_backend_reading_with_the_orm_prices_a_modify(hub: Hub) -> None:
    """A modify's first pass runs in autocommit; a backend without `takes_unit_of_work` gets its ORM session."""
    hub.registry.pricing = OrmPricing()  # type: ignore[assignment]
    await catalog.set_prices(hub, prices=[{"sku": "TEA", "unit_price_q": 300}])
    code = await make_channel(hub)
    session, _ = await sessions.open_session(hub, channel_code=code)
    session = await sessions.modify_session(hub, channel_code=code, session_key=session.session_key,
                                            ops=[{"op": "add_line", "sku": "TEA", "qty": "2"}])
    assert (session.items[0]["unit_price_q"], session.pricing["total_q"]) == (301, 602)

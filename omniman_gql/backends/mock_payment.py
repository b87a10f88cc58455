"""A payment gateway stand-in whose ledger is a database table, so every process (web, workers) sees one state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import col

from ..models import MockPaymentIntent, table_of, utcnow
from ..protocols import PaymentResult

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ..runtime import Hub

DECLINED = "declined by the mock gateway"


class MockPayment:
    """Intents whose id starts with `fail` are declined, so failure paths can be exercised without a gateway.

    A capture charges an intent once; refunds add up to what was captured, each `reference` counted once (a repeated
    delivery answers `already`). The Hub attaches itself (`attach`): the ledger lives in its database."""

    def __init__(self) -> None:
        self._hub: Hub | None = None

    def attach(self, hub: Hub) -> None:
        self._hub = hub

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("the mock gateway keeps its intents in the hub's database: attach it to a Hub first")
        return self._hub

    async def get_status(self, intent_id: str) -> str:
        async with self.hub.transaction(readonly=True) as uow:
            row = (await uow.db.execute(select(col(MockPaymentIntent.status)).where(
                col(MockPaymentIntent.intent_id) == intent_id))).scalar_one_or_none()
        return str(row) if row else "authorized"

    async def capture(self, intent_id: str, amount_q: int, *, reference: str) -> PaymentResult:
        if intent_id.startswith("fail"):
            return PaymentResult(intent_id, "failed", amount_q, detail={"reason": DECLINED})
        now = utcnow()
        async with self.hub.transaction() as uow:
            # Insert-or-nothing: two deliveries racing here meet on the unique intent id, one of them captures.
            inserted = await uow.rows.insert_new(table_of(MockPaymentIntent), {
                "intent_id": intent_id, "status": "captured", "captured_q": amount_q, "refunded_q": 0,
                "references": [reference], "updated_at": now})
            if inserted is None:
                row = await self._locked(uow.db, intent_id)
                assert row is not None
                return PaymentResult(intent_id, row.status, row.captured_q, already=True)
        return PaymentResult(intent_id, "captured", amount_q)

    async def refund(self, intent_id: str, amount_q: int, *, reference: str) -> PaymentResult:
        async with self.hub.transaction() as uow:
            row = await self._locked(uow.db, intent_id)
            if row is None:
                return PaymentResult(intent_id, "failed", amount_q, detail={"reason": "nothing was captured"})
            if reference in row.references:
                return PaymentResult(intent_id, "refunded", amount_q, already=True)
            left = row.captured_q - row.refunded_q
            if amount_q > left:
                return PaymentResult(intent_id, "failed", amount_q,
                                     detail={"reason": f"only {left} left to refund"})
            row.refunded_q += amount_q
            row.references = [*row.references, reference]
            row.status = "refunded" if row.refunded_q >= row.captured_q else "partially_refunded"
            row.updated_at = utcnow()
        return PaymentResult(intent_id, "refunded", amount_q)

    @staticmethod
    async def _locked(db: AsyncSession, intent_id: str) -> MockPaymentIntent | None:
        return (await db.execute(select(MockPaymentIntent).where(
            col(MockPaymentIntent.intent_id) == intent_id).with_for_update())).scalar_one_or_none()

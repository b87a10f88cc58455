"""A payment gateway stand-in that keeps its ledger in memory: captures and refunds succeed once per intent."""

from __future__ import annotations

import asyncio

from ..protocols import PaymentResult


class MockPayment:
    """Intents whose id starts with `fail` are declined, so failure paths can be exercised without a gateway."""

    def __init__(self) -> None:
        self._state: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def get_status(self, intent_id: str) -> str:
        return self._state.get(intent_id, "authorized")

    async def capture(self, intent_id: str, amount_q: int, *, reference: str) -> PaymentResult:
        async with self._lock:
            if intent_id.startswith("fail"):
                return PaymentResult(intent_id, "failed", amount_q, detail={"reason": "declined by the mock gateway"})
            if self._state.get(intent_id) in ("captured", "refunded"):
                return PaymentResult(intent_id, self._state[intent_id], amount_q, already=True)
            self._state[intent_id] = "captured"
            return PaymentResult(intent_id, "captured", amount_q)

    async def refund(self, intent_id: str, amount_q: int, *, reference: str) -> PaymentResult:
        async with self._lock:
            if self._state.get(intent_id) == "refunded":
                return PaymentResult(intent_id, "refunded", amount_q, already=True)
            self._state[intent_id] = "refunded"
            return PaymentResult(intent_id, "refunded", amount_q)

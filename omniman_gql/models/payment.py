"""Payment on the order (§14) and the mock gateway's intents, kept in the database so every process sees them."""

import datetime as dt
from typing import Any

from sqlalchemy import Column, ForeignKey, String, Text
from sqlmodel import Field, SQLModel

from ._base import BigId, JsonDoc, Money, UtcDateTime, utcnow

PAYMENT_STATUSES = ("none", "pending", "authorized", "captured", "partially_refunded", "refunded", "failed")


class OrderPayment(SQLModel, table=True):
    """An order's payment state. Written on its first move; before that it is derived from the order's snapshot
    (`data.payment.intent_id` → `pending`, else `none`), so a commit writes no row of its own."""

    __tablename__ = "order_payments"

    order_id: int = Field(sa_column=Column(BigId, ForeignKey("orders.id", name="fk_order_payments_order"),
                                           primary_key=True, autoincrement=False))
    status: str = Field(sa_column=Column(String(24), nullable=False))
    intent_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    method: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    amount_q: int = Field(sa_column=Column(Money, nullable=False))
    captured_q: int = Field(default=0, sa_column=Column(Money, nullable=False))
    refunded_q: int = Field(default=0, sa_column=Column(Money, nullable=False))
    # Refunds asked for whose directive has not landed yet: counted against what is left to refund, so two quick
    # refundPayment calls cannot together refund more than was captured.
    pending_refund_q: int = Field(default=0, sa_column=Column(Money, nullable=False))
    refunds_count: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class MockPaymentIntent(SQLModel, table=True):
    """The mock gateway's ledger: one row per intent it has captured or refunded."""

    __tablename__ = "mock_payment_intents"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    intent_id: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    status: str = Field(sa_column=Column(String(24), nullable=False))
    captured_q: int = Field(default=0, sa_column=Column(Money, nullable=False))
    refunded_q: int = Field(default=0, sa_column=Column(Money, nullable=False))
    references: list[Any] = Field(default_factory=list, sa_column=Column(JsonDoc, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))

"""Orders and what hangs off them: items, the append-only event log, fulfillments."""

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import BigId, JsonDoc, Money, Qty, UtcDateTime, utcnow


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel_code", "external_ref", name="uq_orders_channel_external_ref"),
        Index("ix_orders_created", "created_at", "id"),
        Index("ix_orders_channel_created", "channel_code", "created_at", "id"),
        Index("ix_orders_customer_created", "customer_code", "created_at", "id"),
        # Search: equality on the platform's reference and on the handle, whatever the channel.
        Index("ix_orders_external_ref", "external_ref"),
        Index("ix_orders_handle_ref", "handle_ref"),
        Index("ix_orders_channel_session", "channel_code", "session_key"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    ref: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    channel_code: str = Field(
        sa_column=Column(String(64), ForeignKey("channels.code", name="fk_orders_channel"), nullable=False)
    )
    session_key: str = Field(sa_column=Column(String(200), nullable=False))
    handle_type: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    handle_ref: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    external_ref: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    total_q: int = Field(sa_column=Column(Money, nullable=False))
    items_count: int = Field(default=0)
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    confirmed_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    processing_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    ready_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    dispatched_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    delivered_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    completed_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    cancelled_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    # The customer named on the session at commit (its code, name and phone as they were are in the snapshot).
    customer_code: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class OrderItem(SQLModel, table=True):
    __tablename__ = "order_items"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    order_id: int = Field(
        sa_column=Column(BigId, ForeignKey("orders.id", name="fk_order_items_order"), nullable=False, index=True)
    )
    line_id: str = Field(sa_column=Column(String(32), nullable=False))
    sku: str = Field(sa_column=Column(String(200), nullable=False))
    name: str = Field(default="", sa_column=Column(String(200), nullable=False))
    qty: Decimal = Field(sa_column=Column(Qty, nullable=False))
    unit_price_q: int = Field(sa_column=Column(Money, nullable=False))
    line_total_q: int = Field(sa_column=Column(Money, nullable=False))
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))


class OrderEvent(SQLModel, table=True):
    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_channel_id", "channel_code", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    order_id: int = Field(
        sa_column=Column(BigId, ForeignKey("orders.id", name="fk_order_events_order"), nullable=False, index=True)
    )
    channel_code: str = Field(sa_column=Column(String(64), nullable=False))
    type: str = Field(sa_column=Column(String(64), nullable=False))
    actor: str = Field(default="system", sa_column=Column(String(200), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class Fulfillment(SQLModel, table=True):
    __tablename__ = "fulfillments"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    ref: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    order_id: int = Field(
        sa_column=Column(BigId, ForeignKey("orders.id", name="fk_fulfillments_order"), nullable=False, index=True)
    )
    status: str = Field(default="pending", sa_column=Column(String(16), nullable=False))
    carrier: str = Field(default="", sa_column=Column(String(200), nullable=False))
    tracking_code: str = Field(default="", sa_column=Column(String(200), nullable=False))
    tracking_url: str = Field(default="", sa_column=Column(String(2000), nullable=False))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    shipped_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    delivered_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))


class FulfillmentItem(SQLModel, table=True):
    __tablename__ = "fulfillment_items"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    fulfillment_id: int = Field(
        sa_column=Column(
            BigId, ForeignKey("fulfillments.id", name="fk_fulfillment_items_fulfillment"), nullable=False, index=True
        )
    )
    line_id: str = Field(sa_column=Column(String(32), nullable=False))
    qty: Decimal = Field(sa_column=Column(Qty, nullable=False))

"""Tables of the shipped simple backends: the price table, stock levels and stock holds."""

import datetime as dt
from decimal import Decimal

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from ._base import BigId, Money, Qty, UtcDateTime, utcnow


class Price(SQLModel, table=True):
    """A unit price of a SKU, for one channel and one price list, or for any (§16: the most specific row wins)."""

    __tablename__ = "prices"

    sku: str = Field(sa_column=Column(String(200), primary_key=True))
    # "" means "any channel" and "no price list": part of the key, so never NULL (NULLs would never collide).
    channel_code: str = Field(default="", sa_column=Column(String(64), primary_key=True))
    price_list: str = Field(default="", sa_column=Column(String(64), primary_key=True))
    unit_price_q: int = Field(sa_column=Column(Money, nullable=False))
    name: str = Field(default="", sa_column=Column(String(200), nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class StockLevel(SQLModel, table=True):
    __tablename__ = "stock_levels"

    sku: str = Field(sa_column=Column(String(200), primary_key=True))
    on_hand: Decimal = Field(sa_column=Column(Qty, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class StockHold(SQLModel, table=True):
    __tablename__ = "stock_holds"
    __table_args__ = (
        Index("ix_stock_holds_sku_status", "sku", "status"),
        Index("ix_stock_holds_reference", "reference"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    hold_id: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    sku: str = Field(sa_column=Column(String(200), nullable=False))
    qty: Decimal = Field(sa_column=Column(Qty, nullable=False))
    reference: str = Field(sa_column=Column(String(300), nullable=False))
    status: str = Field(default="active", sa_column=Column(String(16), nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))

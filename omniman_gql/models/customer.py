"""Tables of the shipped customer backend: customers, and the orders their figures count."""

import datetime as dt

from sqlalchemy import Boolean, Column, Index, String
from sqlmodel import Field, SQLModel

from ._base import BigId, JsonDoc, Money, UtcDateTime, utcnow


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        # Search: by name (the folded `name_key`), by phone digits and by e-mail; newest first by id.
        Index("ix_customers_name_key", "name_key"),
        Index("ix_customers_email", "email"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    code: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(default="", sa_column=Column(String(200), nullable=False))
    # Lower case, accents removed: what a name search compares.
    name_key: str = Field(default="", sa_column=Column(String(200), nullable=False))
    phone: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    # The phone's digits: the natural key (one customer per phone, whatever its formatting). Unique, and NULLs never
    # collide, so customers without a phone are not limited.
    phone_digits: str | None = Field(default=None, sa_column=Column(String(15), nullable=True, unique=True))
    email: str | None = Field(default=None, sa_column=Column(String(254), nullable=True))
    tax_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    price_list: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    notes: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JsonDoc, nullable=False))
    is_active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    orders_count: int = Field(default=0)
    total_spent_q: int = Field(default=0, sa_column=Column(Money, nullable=False))
    last_order_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class CustomerOrder(SQLModel, table=True):
    """One order of a customer as `record_order` last counted it: what makes recording idempotent per order and lets
    a cancelled order be taken back out."""

    __tablename__ = "customer_orders"
    __table_args__ = (Index("ix_customer_orders_customer_code", "customer_code"),)

    order_ref: str = Field(sa_column=Column(String(32), primary_key=True))
    customer_code: str = Field(sa_column=Column(String(64), nullable=False))
    total_q: int = Field(sa_column=Column(Money, nullable=False))
    ordered_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    counted: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))

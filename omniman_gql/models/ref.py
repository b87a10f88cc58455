"""Refs (tables, tabs, tickets, platform ids) on sessions and orders, applied ref types, and ticket counters."""

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Column, Index, Integer, String, bindparam, case, text, update
from sqlmodel import Field, SQLModel

from ._base import BigId, UtcDateTime, utcnow

# The active refs of one channel, type and scope hold distinct values: a partial unique index both databases honour,
# so two concurrent attaches of one value meet on it (the second is refused), never on a read made before writing.
ACTIVE = text("is_active")


class Ref(SQLModel, table=True):
    __tablename__ = "refs"
    __table_args__ = (
        Index("uq_refs_active_value", "channel_code", "ref_type", "scope_key", "value", unique=True,
              sqlite_where=ACTIVE, postgresql_where=ACTIVE),
        # Search by any ref value (equality on the normalised value), and a target's refs.
        Index("ix_refs_value", "value"),
        Index("ix_refs_session", "channel_code", "session_key"),
        Index("ix_refs_order", "order_ref"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    channel_code: str = Field(sa_column=Column(String(64), nullable=False))
    ref_type: str = Field(sa_column=Column(String(32), nullable=False))
    value: str = Field(sa_column=Column(String(200), nullable=False))
    # "" for a channel-wide ref; the business day (YYYY-MM-DD) for a per-day one.
    scope_key: str = Field(sa_column=Column(String(10), nullable=False))
    # The holder: the session it was attached to (kept after it moved to the order), and the order once it has one.
    session_key: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    order_ref: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    # The type's lifecycle at attach time: commit and abandon act on these without reading the types.
    copy_to_order: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    expires_on_close: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    is_active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    deactivated_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))


class RefType(SQLModel, table=True):
    """A ref type applied with `omniman reftypes apply` (the shipped ones and those from settings live in code)."""

    __tablename__ = "ref_types"

    code: str = Field(sa_column=Column(String(32), primary_key=True))
    label: str = Field(sa_column=Column(String(200), nullable=False))
    target: str = Field(sa_column=Column(String(16), nullable=False))
    scope: str = Field(sa_column=Column(String(16), nullable=False))
    copy_to_order: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    expires_on_close: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class TicketCounter(SQLModel, table=True):
    """The last ticket number given on a channel's business day: incremented in the commit's own transaction (an
    upsert that locks the row), so numbers are gap-free and unique."""

    __tablename__ = "ticket_counters"

    channel_code: str = Field(sa_column=Column(String(64), primary_key=True))
    business_day: str = Field(sa_column=Column(String(10), primary_key=True))
    last: int = Field(default=0, sa_column=Column(Integer, nullable=False))


def closing_refs(*, to_order: bool) -> Any:
    """The UPDATE a closing session makes to its active refs (bound: `o_channel_code`, `o_session_key`, `r_now`,
    and with `to_order` the new order's `o_ref`): committed (`to_order`), its `copy_to_order` refs move to the order
    and its `expires_on_close` refs end; abandoned, both end. Shared by the statements that write an order (PostgreSQL
    sends it inside the order's own statement) and by abandon."""
    refs = Ref.__table__  # type: ignore[attr-defined]
    statement = update(refs).where(
        refs.c.channel_code == bindparam("o_channel_code", type_=refs.c.channel_code.type),
        refs.c.session_key == bindparam("o_session_key", type_=refs.c.session_key.type),
        refs.c.is_active, refs.c.order_ref.is_(None), refs.c.copy_to_order | refs.c.expires_on_close)
    now = bindparam("r_now", type_=refs.c.deactivated_at.type)
    if not to_order:
        return statement.values(is_active=False, deactivated_at=now)
    moving = refs.c.copy_to_order
    return statement.values(order_ref=case((moving, bindparam("o_ref", type_=refs.c.order_ref.type)), else_=None),
                            is_active=moving, deactivated_at=case((moving, None), else_=now))

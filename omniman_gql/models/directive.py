"""The directives table: the transactional outbox of side effects."""

import datetime as dt
from typing import Any

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from ._base import BigId, JsonDoc, UtcDateTime, utcnow


class Directive(SQLModel, table=True):
    __tablename__ = "directives"
    __table_args__ = (
        Index("ix_directives_status_available", "status", "available_at"),
        Index("ix_directives_order_ref", "order_ref"),
        Index("ix_directives_status_updated", "status", "updated_at"),  # the purge of old `done` directives
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    topic: str = Field(sa_column=Column(String(64), nullable=False))
    status: str = Field(default="queued", sa_column=Column(String(16), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))
    order_ref: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    attempts: int = Field(default=0)
    available_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    started_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    # While `running`: until when the claiming worker holds it (renewed by its heartbeat). Past it, any worker takes
    # the directive over; `attempts` is the fencing token that keeps the old holder from recording an outcome.
    lease_expires_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))

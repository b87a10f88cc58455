"""The idempotency keys table: one row per (scope, key), written in the same transaction as its result."""

import datetime as dt
from typing import Any

from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import JsonDoc, UtcDateTime, utcnow


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),
        Index("ix_idempotency_keys_created_at", "created_at"),  # the purge of keys past their TTL
    )

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(sa_column=Column(String(100), nullable=False))
    key: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(default="in_progress", sa_column=Column(String(16), nullable=False))
    session_key: str = Field(sa_column=Column(String(200), nullable=False))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))

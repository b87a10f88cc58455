"""The sessions table: mutable pre-commit state (cart, tab, draft); lines live in one JSON document."""

import datetime as dt
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import JsonDoc, UtcDateTime, utcnow


class Session(SQLModel, table=True):
    __tablename__ = "sessions"
    __table_args__ = (
        UniqueConstraint("channel_code", "session_key", name="uq_sessions_channel_key"),
        # `open_handle` is "<type>:<ref>" while the session is open and NULL afterwards; NULLs never collide, so this
        # keeps at most one OPEN session per handle on both databases without a partial index.
        UniqueConstraint("channel_code", "open_handle", name="uq_sessions_channel_open_handle"),
        Index("ix_sessions_state_updated", "state", "updated_at"),  # idle open sessions, old abandoned ones
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_code: str = Field(
        sa_column=Column(String(64), ForeignKey("channels.code", name="fk_sessions_channel"), nullable=False)
    )
    session_key: str = Field(sa_column=Column(String(200), nullable=False))
    handle_type: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    handle_ref: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    open_handle: str | None = Field(default=None, sa_column=Column(String(270), nullable=True))
    state: str = Field(default="open", sa_column=Column(String(16), nullable=False))
    pricing_policy: str = Field(sa_column=Column(String(16), nullable=False))
    edit_policy: str = Field(sa_column=Column(String(16), nullable=False))
    rev: int = Field(default=0)
    items: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JsonDoc, nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))
    pricing: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))
    pricing_trace: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JsonDoc, nullable=False))
    opened_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    committed_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    commit_token: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))

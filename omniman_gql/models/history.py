"""The channel history table: one row per change of a channel's settings or config (who, when, before, after)."""

import datetime as dt
from typing import Any

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from ._base import BigId, JsonDoc, UtcDateTime, utcnow


class ChannelRevision(SQLModel, table=True):
    __tablename__ = "channel_revisions"
    # A channel's history is read newest first: (channel_code, id) serves it without a sort.
    __table_args__ = (Index("ix_channel_revisions_channel_id", "channel_code", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    channel_code: str = Field(sa_column=Column(String(64), nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    # The channel's settings and config as they were before the change ({} for a creation) and after it.
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))

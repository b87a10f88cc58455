"""The channels table: where orders come from, with their policies and status flow."""

import datetime as dt
from typing import Any

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from ._base import JsonDoc, UtcDateTime, utcnow


class Channel(SQLModel, table=True):
    __tablename__ = "channels"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    pricing_policy: str = Field(default="internal", sa_column=Column(String(16), nullable=False))
    edit_policy: str = Field(default="open", sa_column=Column(String(16), nullable=False))
    currency: str = Field(default="BRL", sa_column=Column(String(3), nullable=False))
    display_order: int = Field(default=0)
    is_active: bool = Field(default=True)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDoc, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))

"""The API tokens table: only a hash of each token is kept."""

import datetime as dt

from sqlalchemy import Column, Index, String, text
from sqlmodel import Field, SQLModel

from ._base import JsonDoc, UtcDateTime, utcnow


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    # A live token's name is the actor on the events it causes: unique among live tokens (revoked ones keep theirs).
    __table_args__ = (Index("uq_api_tokens_live_name", "name", unique=True, sqlite_where=text("revoked_at IS NULL"),
                            postgresql_where=text("revoked_at IS NULL")),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    channels: list[str] = Field(default_factory=list, sa_column=Column(JsonDoc, nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))

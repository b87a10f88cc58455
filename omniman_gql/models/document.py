"""The persisted documents table: GraphQL documents by SHA-256, stored by clients (APQ) or registered as trusted."""

import datetime as dt

from sqlalchemy import Boolean, Column, String, Text
from sqlmodel import Field, SQLModel

from ._base import UtcDateTime, utcnow


class PersistedDocument(SQLModel, table=True):
    __tablename__ = "persisted_documents"

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    document: str = Field(sa_column=Column(Text, nullable=False))
    trusted: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))

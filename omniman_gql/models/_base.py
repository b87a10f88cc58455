"""Column types and metadata conventions shared by every table."""

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, Numeric, String, Table, TypeDecorator
from sqlalchemy.types import TypeEngine
from sqlmodel import SQLModel

from ..money import normalize_qty

# Deterministic constraint names, so Alembic can drop and batch-alter them on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids for the tables that grow forever.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonDoc = JSON()
Money = BigInteger()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def table_of(model: type[SQLModel]) -> Table:
    """The Table of a `table=True` model, for Core statements."""
    # SQLModel's metaclass sets `__table__` on every table model but does not declare it, so type checkers cannot
    # see it: this is the one place that says so to mypy.
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are always aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Qty(TypeDecorator[Decimal]):
    """Exact decimal quantities: NUMERIC(15, 3) on PostgreSQL, text on SQLite (which would store a float)."""

    impl = Numeric(15, 3)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(24))
        return dialect.type_descriptor(Numeric(15, 3))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value if isinstance(value, Decimal) else Decimal(str(value))
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # normalize_qty, not Decimal.normalize(): the latter turns 10 into 1E+1, which clients would then see.
        return normalize_qty(value if isinstance(value, Decimal) else Decimal(value))

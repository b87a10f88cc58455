"""The statement sets of a unit of work, one module per concern, in the SQL of each database.

SQLAlchemy Core for both databases, and PostgreSQL's own forms where they save round trips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .commits import CommitStatements, PgCommitStatements
from .orders import OrderStatements, PgOrderStatements
from .rows import PgRowStatements, SqliteRowStatements
from .sessions import PgSessionStatements, SessionStatements, SqliteSessionStatements


@dataclass(frozen=True, slots=True)
class StatementSets:
    """The classes a unit of work builds its statement sets from (each takes the unit of work)."""

    sessions: Any
    commits: Any
    orders: Any
    rows: Any


def statement_sets(dialect_name: str) -> StatementSets:
    if dialect_name == "postgresql":
        return StatementSets(PgSessionStatements, PgCommitStatements, PgOrderStatements, PgRowStatements)
    if dialect_name == "sqlite":
        return StatementSets(SqliteSessionStatements, CommitStatements, OrderStatements, SqliteRowStatements)
    raise ValueError(f"no statements for the {dialect_name!r} dialect")


__all__ = ["SessionStatements", "StatementSets", "statement_sets"]

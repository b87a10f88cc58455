"""Row writes any use case may need: INSERT … RETURNING id of one row or many, and INSERT … ON CONFLICT DO NOTHING."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ...uow import Values

# Built once per table (and dialect): a statement and its cache key cost more to build than to send.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


class RowStatements:
    """Both databases; a subclass names its dialect's INSERT, whose `ON CONFLICT DO NOTHING` SQLAlchemy renders."""

    __slots__ = ("_uow",)
    _insert: Any = None  # the dialect's insert()

    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def _ignoring(self, table: Any) -> Any:
        return self._insert(table).on_conflict_do_nothing()

    async def insert_new(self, table: Any, values: Values) -> int | None:
        key = (self._insert, table, "new")
        statement = _STATEMENTS.get(key)
        if statement is None:
            statement = _STATEMENTS[key] = self._ignoring(table).returning(table.c.id)
        return (await self._uow.run(statement, values)).scalar_one_or_none()  # type: ignore[no-any-return]

    async def insert_missing(self, table: Any, rows: Sequence[Values]) -> None:
        if rows:
            await self._uow.execute(self._ignoring(table).values(list(rows)))

    async def insert_returning_ids(self, table: Any, rows: Sequence[Values]) -> list[int]:
        if not rows:
            return []
        if len(rows) == 1:  # one row (an event, a directive): a plain execute, without the executemany machinery
            statement = _STATEMENTS.get((table, 1))
            if statement is None:
                statement = _STATEMENTS[(table, 1)] = insert(table).returning(table.c.id)
            return [(await self._uow.run(statement, rows[0])).scalar_one()]
        # executemany form: SQLAlchemy's "insertmanyvalues" sends one multi-row INSERT … RETURNING, ids in order.
        statement = _STATEMENTS.get((table, "many"))
        if statement is None:
            statement = _STATEMENTS[(table, "many")] = insert(table).returning(table.c.id,
                                                                               sort_by_parameter_order=True)
        return list((await self._uow.execute(statement, list(rows))).scalars())


    async def increment(self, table: Any, keys: Values, column: str) -> int:
        key = (self._insert, table, "increment", tuple(keys), column)
        statement = _STATEMENTS.get(key)
        if statement is None:
            # INSERT … VALUES (…, 1) ON CONFLICT (keys) DO UPDATE SET column = column + 1 RETURNING column: one
            # statement that creates or increments, and holds the row's lock until the transaction ends.
            statement = _STATEMENTS[key] = (
                self._insert(table).values({**{name: bindparam(name) for name in keys}, column: 1})
                .on_conflict_do_update(index_elements=list(keys), set_={column: table.c[column] + 1})
                .returning(table.c[column]))
        return (await self._uow.run(statement, keys)).scalar_one()  # type: ignore[no-any-return]


class SqliteRowStatements(RowStatements):
    __slots__ = ()
    _insert = staticmethod(sqlite_insert)


class PgRowStatements(RowStatements):
    __slots__ = ()
    _insert = staticmethod(pg_insert)

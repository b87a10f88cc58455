"""PostgreSQL accelerator: the checkout's statements compiled once and sent on a psycopg cursor of the unit of work.

SQLAlchemy's execution of a statement (its execution context, cache lookup, parameter processing, cursor wrapper and
result machinery, a greenlet hop each way) costs several times what the statement costs psycopg. Here a statement
is compiled once per set of value keys; each call only runs the binds' processors and psycopg's `cursor.execute`
(with psycopg's own prepared statements after `prepare_threshold` runs), and rows come back as named tuples whose
values went through the columns' result processors, as SQLAlchemy's rows do. Database errors are raised as
SQLAlchemy raises them (wrapped, a lost connection invalidated).

Public API only: SQLAlchemy's `compile`, `Compiled.string/binds/construct_params`, `TypeEngine.dialect_impl`,
`bind_processor` and `result_processor`, `Dialect.is_disconnect`, `DBAPIError.instance`; psycopg's
`AsyncConnection.cursor` and `AsyncCursor`. Statements sent here skip SQLAlchemy's engine events (tracing
listeners); `OMNIMAN_ACCELERATE=false` sends every statement through SQLAlchemy. tests/services/test_pg_direct.py
holds this path to SQLAlchemy's answers.
"""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound, ResourceClosedError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Delete, Insert, Select, Update

Processor = Callable[[Any], Any]


class DirectResult:
    """The part of SQLAlchemy's Result the statement sets read: rows as named tuples (attribute, index and slice
    access) and `rowcount`. A statement that returns no rows refuses to be read, as SQLAlchemy's result does."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any] | None, rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    @property
    def rows(self) -> list[Any]:
        if self._rows is None:
            raise ResourceClosedError("This result object does not return rows. It has been closed automatically.")
        return self._rows

    def __iter__(self) -> Any:
        return iter(self.rows)

    def first(self) -> Any:
        rows = self.rows
        return rows[0] if rows else None

    def all(self) -> list[Any]:
        return list(self.rows)

    def one(self) -> Any:
        rows = self.rows
        if len(rows) != 1:
            if rows:
                raise MultipleResultsFound("Multiple rows were found when exactly one was required")
            raise NoResultFound("No row was found when one was required")
        return rows[0]

    def one_or_none(self) -> Any:
        return None if not self.rows else self.one()

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]


class _Key:
    """Stands for the value of `name` in the caller's values while a plan finds where each bind's value comes from."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


# Values SQLAlchemy would send unchanged on every call: a statement's own literals of these types are processed once.
_CONSTANT_TYPES = (str, int, float, bool, type(None), bytes, Decimal, dt.datetime, dt.date, dt.time, dt.timedelta)


class Plan:
    """A statement compiled for PostgreSQL once: its SQL, where each bind's value comes from (a key of the caller's
    values through the bind's processor, or one of the statement's literals, processed once), and (from its first
    run, with the column types psycopg reports) the row type and the result processors."""

    __slots__ = ("binds", "columns", "processors", "row", "sql")

    def __init__(self, sql: str, binds: list[tuple[str, str | None, Any]], columns: list[Any]) -> None:
        self.sql = sql
        self.binds = binds  # (bind name, the values' key or None, its processor, or the processed literal)
        self.columns = columns  # the statement's result columns (their types), in order
        self.row: Any = None
        self.processors: list[tuple[int, Processor]] = []

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        params = {}
        for name, key, processor in self.binds:
            if key is None:
                params[name] = processor  # the literal, processed already
            elif processor is None:
                params[name] = values[key]
            else:
                params[name] = processor(values[key])
        return params

    def describe(self, description: Any, dialect: Any) -> None:
        """The row type and the result processors, from the first run's columns (a processor may depend on the
        type psycopg reports, as it does in SQLAlchemy's result)."""
        if len(description) != len(self.columns):
            raise RuntimeError(f"{len(description)} columns came back for {len(self.columns)} selected: {self.sql}")
        self.row = namedtuple("Row", [column.name for column in description], rename=True)  # type: ignore[misc]
        found = [(index, column.type.dialect_impl(dialect).result_processor(dialect, described.type_code))
                 for index, (column, described) in enumerate(zip(self.columns, description, strict=True))]
        self.processors = [(index, processor) for index, processor in found if processor is not None]


# (id(statement), the keys of the values) -> (statement, plan or None). SQLAlchemy compiles a statement for the keys
# it is given (an INSERT names those columns only): so does this. The statements are module constants.
_plans: dict[tuple[int, tuple[str, ...]], tuple[Any, Plan | None]] = {}


def plan_of(statement: Any, keys: tuple[str, ...], dialect: Any) -> Plan | None:
    """The statement's plan for these keys, or None when only SQLAlchemy's execution can run it: Python-side column
    defaults, expanding, literal-execute or callable binds, escaped bind names, or another kind of statement."""
    known = _plans.get((id(statement), keys))
    if known is not None and known[0] is statement:
        return known[1]
    plan = _plan(statement, keys, dialect)
    _plans[(id(statement), keys)] = (statement, plan)
    return plan


def _plan(statement: Any, keys: tuple[str, ...], dialect: Any) -> Plan | None:
    if not isinstance(statement, Select | Insert | Update | Delete):
        return None
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled.positional or compiled.insert_prefetch or compiled.update_prefetch or compiled.escaped_bind_names \
            or any(b.expanding or b.literal_execute or b.callable is not None for b in compiled.binds.values()):
        return None
    try:
        found = compiled.construct_params({key: _Key(key) for key in keys}, escape_names=False)
    except Exception:  # noqa: BLE001  # a bind without a value: SQLAlchemy's execution raises it as it should
        return None
    binds: list[tuple[str, str | None, Any]] = []
    for name, value in found.items():
        bind = compiled.binds.get(name)
        processor = None if bind is None else bind.type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(value, _Key):
            binds.append((name, value.name, processor))
        elif type(value) in _CONSTANT_TYPES:
            binds.append((name, None, value if processor is None else processor(value)))
        else:
            return None  # a mutable literal: processed on every call by SQLAlchemy
    return Plan(compiled.string, binds, list(statement.exported_columns))


class DirectConnection:
    """One unit of work's statements sent on its psycopg connection, through one cursor."""

    __slots__ = ("_connection", "_cursor", "_driver")

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._driver: psycopg.AsyncConnection[Any] | None = None
        self._cursor: psycopg.AsyncCursor[Any] | None = None

    async def execute(self, statement: Any, values: Mapping[str, Any]) -> Any:
        """`connection.execute(statement, values)`, sent by psycopg when the statement has a plan."""
        connection = self._connection
        plan = plan_of(statement, tuple(values), connection.dialect)
        if plan is None:
            return await connection.execute(statement, values)
        params = plan.parameters(values)
        driver = self._driver
        if driver is None:  # SQLAlchemy raises its own error here when the connection is invalid or closed
            driver = self._driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
        if not driver.autocommit and not connection.in_transaction():
            # psycopg begins a transaction with the statement: begin SQLAlchemy's too, as its own path would, so that
            # its commit and rollback reach psycopg's.
            await connection.begin()
        cursor = self._cursor
        try:
            if cursor is None:
                cursor = self._cursor = driver.cursor(row_factory=tuple_row)
            await cursor.execute(plan.sql, params)
            if not plan.columns:  # no rows: an INSERT, UPDATE or DELETE without RETURNING
                return DirectResult(None, cursor.rowcount)
            rows = await cursor.fetchall()
        except psycopg.Error as error:
            raise await self._wrapped(error, driver, cursor, plan.sql, params) from error
        if plan.row is None:  # psycopg builds the description anew on each access: once per plan is enough
            plan.describe(cursor.description, connection.dialect)
        make, processors = plan.row._make, plan.processors
        if not processors:
            return DirectResult([make(row) for row in rows], len(rows))
        made = []
        for row in rows:
            values_ = list(row)
            for index, processor in processors:
                values_[index] = processor(values_[index])
            made.append(make(values_))
        return DirectResult(made, len(made))

    async def _wrapped(self, error: psycopg.Error, driver: Any, cursor: Any, sql: str,
                       params: dict[str, Any]) -> BaseException:
        """The error as SQLAlchemy raises it; a lost connection is invalidated first, as SQLAlchemy does."""
        connection = self._connection
        dialect = connection.dialect
        lost = dialect.is_disconnect(error, driver, cursor)
        if lost:
            self._driver = self._cursor = None
            await connection.invalidate(error)
        return DBAPIError.instance(sql, params, error, dialect.loaded_dbapi.Error, connection_invalidated=lost,
                                   dialect=dialect)

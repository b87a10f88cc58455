"""The checkout's hot statements sent straight to psycopg on PostgreSQL: compiled once, run without SQLAlchemy's
execution layer (≈ 190 → 70 µs of CPU per statement), with the same parameters, rows, errors and events.

Nor through a psycopg cursor: a statement goes on the driver connection as cursor.execute() would send it (BEGIN
when a transaction must start, psycopg's own prepared statements after `prepare_threshold` runs, its lock and its
wait, which cancels a statement on the server when the task is cancelled), without building a cursor, a query
object and a parameter dict per statement (in one process, A/B alternated: ≈ 30 µs less CPU per statement, ≈ 0.25
ms per checkout). That takes a few of psycopg's internals (`_start_query`, `_prepared`, `_query2pg`); the tests of
tests/services/test_pg_direct*.py hold this path to SQLAlchemy's answers, errors, lost connections and
cancellations, so a psycopg upgrade that moves them fails there. Only on the psycopg series those tests ran
against (`TESTED_PSYCOPG`, which pyproject.toml pins): on any other, SQLAlchemy runs every statement."""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors, generators
from psycopg.adapt import Transformer
from psycopg.pq import ExecStatus, Format
from psycopg.rows import tuple_row
from sqlalchemy.exc import MultipleResultsFound, NoResultFound, ResourceClosedError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util.concurrency import greenlet_spawn

TESTED_PSYCOPG = (3, 3)  # the series whose internals this module was written and tested against


def psycopg_series_tested(version: str) -> bool:
    """Whether a psycopg version string belongs to the series this module's use of its internals was tested on."""
    parts = version.split(".")
    return len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() \
        and (int(parts[0]), int(parts[1])) == TESTED_PSYCOPG


try:  # private modules: present on the tested series, maybe not on another
    from psycopg._preparing import Prepare
    from psycopg._queries import _query2pg
except ImportError:  # pragma: no cover - another psycopg series: SQLAlchemy runs the statements
    DIRECT = False
else:
    DIRECT = psycopg_series_tested(psycopg.__version__)

Processor = Callable[[Any], Any]
TUPLES_OK, COMMAND_OK, EMPTY_QUERY = ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK, ExecStatus.EMPTY_QUERY
COPY_BOTH, FATAL_ERROR = ExecStatus.COPY_BOTH, ExecStatus.FATAL_ERROR
TEXT = Format.TEXT


class DirectResult:
    """The part of SQLAlchemy's Result the checkout reads: rows as named tuples (attribute, index and slice access,
    values converted by the columns' types as SQLAlchemy would), and `rowcount`. A statement that returns no rows
    refuses to be read, as SQLAlchemy's result does."""

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


class _Value:
    """Stands for the value of `key` in the caller's values while a plan finds where each bind's value comes from."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


# Values SQLAlchemy would send unchanged on every call: a statement's own literal binds of these types are processed
# once per plan instead of once per call.
_CONSTANT_TYPES = (str, int, float, bool, type(None), bytes, Decimal, dt.datetime, dt.date, dt.time, dt.timedelta)


class _Plan:
    """A statement compiled for PostgreSQL once: its SQL text, where each bind's value comes from (the caller's
    values, through the bind's processor, or a literal of the statement processed once), and (after its first run,
    from the column types psycopg reports) the row type and its processors."""

    __slots__ = ("sql", "compiled", "binds", "row", "processors", "sources", "converted")

    def __init__(self, compiled: Any, keys: tuple[str, ...]) -> None:
        self.sql: str = compiled.string
        self.compiled = compiled
        self.binds: Mapping[str, Processor] = compiled._bind_processors
        self.row: Any = None
        self.processors: list[tuple[int, Processor]] | None = None
        self.sources = self._sources(keys)
        # client encoding -> (the query with $n placeholders, their names in that order, their formats)
        self.converted: dict[str, tuple[bytes, list[str], list[Any]]] = {}

    def _sources(self, keys: tuple[str, ...]) -> dict[str, tuple[str | None, Any]] | None:
        """Bind name -> (the values' key, its processor) or (None, the literal processed): what construct_params
        answers for these keys, found by asking it once with stand-ins. None when a bind's value may change between
        calls (a callable, or a mutable literal): `parameters` then builds them on every call."""
        compiled = self.compiled
        if any(bind.callable is not None for bind in compiled.binds.values()):
            return None
        try:
            found = compiled.construct_params({key: _Value(key) for key in keys}, escape_names=False)
        except Exception:  # noqa: BLE001  # a required bind missing: parameters() raises it on every call
            return None
        sources: dict[str, tuple[str | None, Any]] = {}
        for name, value in found.items():
            processor = self.binds.get(name)
            if isinstance(value, _Value):
                sources[name] = (value.key, processor)
            elif type(value) in _CONSTANT_TYPES:
                sources[name] = (None, value if processor is None else processor(value))
            else:
                return None
        return sources

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        # What SQLAlchemy's execution context sends: every bind of the statement (its own literals included), each
        # through its type's processor.
        binds = self.binds
        params = self.compiled.construct_params(values, escape_names=False)
        return {key: binds[key](value) if key in binds else value for key, value in params.items()}

    def arguments(self, values: Mapping[str, Any], names: list[str]) -> list[Any]:
        """`parameters(values)` as a list in the order of `names` (the query's placeholders)."""
        sources = self.sources
        if sources is None:
            params = self.parameters(values)
            return [params[name] for name in names]
        arguments = []
        for name in names:
            key, processor = sources[name]
            if key is None:
                arguments.append(processor)  # the literal, processed already
            elif processor is None:
                arguments.append(values[key])
            else:
                arguments.append(processor(values[key]))
        return arguments

    def convert(self, encoding: str) -> tuple[bytes, list[str], list[Any]]:
        """The SQL as psycopg sends it on a connection of this client encoding (%(name)s -> $n), converted once."""
        converted = self.converted.get(encoding)
        if converted is None:
            query, formats, order, _parts = _query2pg(self.sql.encode(encoding), encoding)
            converted = self.converted[encoding] = (query, order or [], formats)
        return converted

    def describe(self, type_codes: list[int], dialect: Any) -> None:
        """The row type and the result processors, from the first run's column types (a processor may depend on
        the type psycopg reports, as it does in SQLAlchemy's result)."""
        columns = self.compiled._result_columns
        self.row = namedtuple("Row", [column[0] for column in columns], rename=True)  # type: ignore[misc]
        found = [(index, column[3]._cached_result_processor(dialect, type_code))
                 for index, (column, type_code) in enumerate(zip(columns, type_codes, strict=True))]
        self.processors = [(index, processor) for index, processor in found if processor is not None]


# (id(statement), the keys of the values) -> (statement, plan or None). SQLAlchemy compiles a statement for the
# keys it is given (an INSERT names those columns only): so does this. The statements are module constants.
_plans: dict[tuple[int, tuple[str, ...]], tuple[Any, _Plan | None]] = {}


def _plan_of(statement: Any, keys: tuple[str, ...], dialect: Any) -> _Plan | None:
    """The statement's plan for these keys, or None when it needs what only SQLAlchemy's execution does:
    Python-side column defaults, expanding or literal-execute parameters, escaped bind names, a positional
    paramstyle, or schema translation."""
    known = _plans.get((id(statement), keys))
    if known is not None and known[0] is statement:
        return known[1]
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    plain = not (compiled.positional or compiled.insert_prefetch or compiled.update_prefetch
                 or compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names
                 or compiled.schema_translate_map)
    plan = _Plan(compiled, keys) if plain else None
    _plans[(id(statement), keys)] = (statement, plan)
    return plan


async def execute(connection: AsyncConnection, statement: Any, values: Mapping[str, Any]) -> Any:
    """`connection.execute(statement, values)` for one set of values. On PostgreSQL, with nobody listening to the
    engine's events, the statement goes to psycopg directly on the connection's driver connection (same
    transaction, same autocommit state); a database error is raised exactly as SQLAlchemy raises it (wrapped, with
    a lost connection invalidated). Anywhere else, or for a statement SQLAlchemy must prepare itself: SQLAlchemy."""
    sync = connection.sync_connection
    if (not DIRECT or connection.dialect.name != "postgresql" or sync is None or sync._has_events or sync.engine._has_events
            or sync._dbapi_connection is None or sync.invalidated):
        return await connection.execute(statement, values)
    plan = _plan_of(statement, tuple(values), connection.dialect)
    driver = sync._dbapi_connection.driver_connection
    if plan is None or driver._pipeline is not None or driver.row_factory is not tuple_row:
        return await connection.execute(statement, values)  # pipeline mode, or rows psycopg must build otherwise
    try:
        driver._check_connection_ok()  # as driver.cursor() does: "the connection is closed"
        transformer = Transformer(driver)
        query, names, formats = plan.convert(transformer.encoding)
        params = transformer.dump_sequence(plan.arguments(values, names), formats)
        sent = _Sent(query, transformer.types or (), transformer.formats, params)
        async with driver.lock:
            result = await driver.wait(_execute_gen(driver, sent))
    except Exception as error:
        if isinstance(error, connection.dialect.loaded_dbapi.Error):  # SQLAlchemy wraps it (and drops a lost link)
            await greenlet_spawn(sync._handle_dbapi_exception, error, plan.sql, plan.parameters(values), None, None)
        raise
    if result.status != TUPLES_OK:  # no rows: an INSERT, UPDATE or DELETE without RETURNING
        rowcount = result.command_tuples
        return DirectResult(None, -1 if rowcount is None else rowcount)
    transformer.set_pgresult(result)
    if plan.row is None:
        plan.describe([result.ftype(index) for index in range(result.nfields)], connection.dialect)
    processors = plan.processors
    if not processors:
        return DirectResult(transformer.load_rows(0, result.ntuples, plan.row._make), result.ntuples)
    rows = []
    make = plan.row._make
    for row in transformer.load_rows(0, result.ntuples, list):
        for index, processor in processors:
            row[index] = processor(row[index])
        rows.append(make(row))
    return DirectResult(rows, result.ntuples)


class _Sent:
    """A statement as psycopg's prepared statement manager keys it (query and parameter types), with what is sent."""

    __slots__ = ("query", "types", "formats", "params")

    def __init__(self, query: bytes, types: tuple[int, ...], formats: Any, params: Any) -> None:
        self.query = query
        self.types = types
        self.formats = formats
        self.params = params


def _execute_gen(driver: Any, sent: _Sent) -> Any:
    """What psycopg's cursor.execute() does on a connection outside pipeline mode, without a cursor: BEGIN first if
    a transaction must start, the statement prepared as the connection's prepared statement manager decides (after
    `prepare_threshold` runs, on its own names, so the two paths share one cache), errors raised as psycopg raises
    them. Returns the statement's result."""
    yield from driver._start_query()
    pgconn, prepared = driver.pgconn, driver._prepared
    prepare, name = prepared.get(sent)
    if prepare is Prepare.NO:
        if sent.params:
            pgconn.send_query_params(sent.query, sent.params, param_formats=sent.formats, param_types=sent.types,
                                     result_format=TEXT)
        else:  # as psycopg: the simple query protocol when there is nothing to bind
            pgconn.send_query(sent.query)
    else:
        if prepare is Prepare.SHOULD:
            pgconn.send_prepare(name, sent.query, param_types=sent.types)
            for result in (yield from generators.execute(pgconn)):
                if result.status == FATAL_ERROR:
                    raise errors.error_from_result(result, encoding=pgconn._encoding)
        pgconn.send_query_prepared(name, sent.params, param_formats=sent.formats, result_format=TEXT)
    key = prepared.maybe_add_to_cache(sent, prepare, name)
    results = yield from generators.execute(pgconn)
    if key is not None:
        prepared.validate(key, prepare, name, results)
    if not results:
        raise errors.InternalError("got no result from the query")
    for result in results:
        status = result.status
        if status != TUPLES_OK and status != COMMAND_OK and status != EMPTY_QUERY and status != COPY_BOTH:
            if status == FATAL_ERROR:
                raise errors.error_from_result(result, encoding=pgconn._encoding)
            raise errors.InternalError(f"unexpected result status from query: {ExecStatus(status).name}")
    yield from prepared.maintain_gen(driver)
    return results[0]

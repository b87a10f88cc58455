"""Which failures are a database or broker outage (answered UNAVAILABLE) and which stay bugs (INTERNAL_SERVER_ERROR):
`omniman_gql.outages.classify`, on errors the drivers really raise where that is cheap, built ones otherwise."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import dramatiq.errors
import psycopg
import psycopg.errors
import pytest
import redis
import redis.exceptions
from sqlalchemy import exc as sa

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.outages import OutageLog, Unavailable, classify, error_body, is_unavailable, translated
from tests.fixtures.app import free_port


def _raised_from(exc: Exception, cause: Exception) -> Exception:
    """`exc` as Python leaves it when raised with `raise exc from cause`."""
    try:
        raise exc from cause
    except Exception as caught:  # noqa: BLE001 - the exception is the value under test
        return caught


def _raised_while_handling(exc: Exception, context: Exception) -> Exception:
    """`exc` as Python leaves it when raised inside `except` for `context` (its implicit `__context__`)."""
    try:
        try:
            raise context
        except Exception:  # noqa: BLE001
            raise exc  # noqa: B904 - the implicit context is the point
    except Exception as caught:  # noqa: BLE001
        return caught


def test_a_refused_postgresql_connection_is_the_database_unavailable() -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(host="127.0.0.1", port=free_port(), user="postgres", connect_timeout=2)
    outage = classify(caught.value)
    assert outage is not None and (outage.dependency, outage.busy) == ("database", False)
    assert outage.message == "The database is unavailable; retry shortly."
    wrapped = sa.OperationalError("SELECT 1", None, caught.value)
    assert classify(wrapped) is not None and not classify(wrapped).busy  # type: ignore[union-attr]


def test_a_lost_connection_is_the_database_unavailable_whatever_the_error_class() -> None:
    lost = sa.DBAPIError("SELECT 1", None, psycopg.DatabaseError("server closed the connection"),
                         connection_invalidated=True)
    assert classify(lost) is not None
    assert classify(sa.InterfaceError("SELECT 1", None, psycopg.InterfaceError("the connection is closed")))


@pytest.mark.parametrize("state", [psycopg.errors.LockNotAvailable, psycopg.errors.SerializationFailure,
                                   psycopg.errors.DeadlockDetected, psycopg.errors.QueryCanceled])
def test_a_postgresql_that_gave_up_waiting_is_busy(state: type[psycopg.Error]) -> None:
    outage = classify(sa.OperationalError("UPDATE", None, state("waited")))
    assert outage is not None and outage.busy and outage.message == "The database is busy; retry shortly."


def test_sqlite_locked_past_its_timeout_is_busy_and_a_missing_file_is_down(tmp_path: Path) -> None:
    locked = classify(sa.OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")))
    assert locked is not None and locked.busy
    with pytest.raises(sqlite3.OperationalError) as caught:
        sqlite3.connect(f"file:{tmp_path / 'absent' / 'x.db'}?mode=rw", uri=True)
    down = classify(caught.value)
    assert down is not None and not down.busy


def test_a_database_that_takes_no_writes_is_unavailable() -> None:
    standby = sa.InternalError("INSERT", None, psycopg.errors.ReadOnlySqlTransaction("read-only transaction"))
    assert classify(standby) is not None
    read_only_file = sa.OperationalError("INSERT", None, sqlite3.OperationalError("attempt to write a readonly "
                                                                                 "database"))
    assert classify(read_only_file) is not None and not classify(read_only_file).busy  # type: ignore[union-attr]


def test_bugs_and_bad_statements_are_not_outages(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "x.db") as connection, pytest.raises(sqlite3.OperationalError) as caught:
        connection.execute("SELECT * FROM no_such_table")
    assert classify(caught.value) is None
    assert classify(sa.OperationalError("SELECT", None, caught.value)) is None
    assert classify(sa.IntegrityError("INSERT", None, psycopg.errors.UniqueViolation("dup"))) is None
    assert classify(sa.ProgrammingError("SELECT", None, psycopg.errors.UndefinedTable("x"))) is None
    assert classify(KeyError("x")) is None and classify(RuntimeError("boom")) is None
    assert not is_unavailable(ValueError("bad input"))


def test_redis_and_dramatiq_connection_errors_are_the_broker_unavailable() -> None:
    client = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    with pytest.raises(redis.exceptions.ConnectionError) as caught:
        client.ping()
    client.close()
    assert classify(caught.value) is not None and classify(caught.value).dependency == "broker"  # type: ignore[union-attr]
    assert classify(redis.exceptions.TimeoutError("slow")) is not None
    assert classify(dramatiq.errors.ConnectionFailed("no broker")) is not None
    assert classify(dramatiq.errors.ConnectionClosed("gone")) is not None
    assert classify(redis.exceptions.ResponseError("WRONGTYPE")) is None  # a bug, not an outage


def test_an_outage_is_found_behind_causes_contexts_and_groups() -> None:
    refused = redis.exceptions.ConnectionError("refused")
    assert is_unavailable(_raised_from(RuntimeError("send failed"), refused))
    assert is_unavailable(_raised_while_handling(sa.InvalidRequestError("can't reconnect"), refused))
    assert not is_unavailable(_raised_while_handling(KeyError("x"), ValueError("y")))
    assert is_unavailable(ExceptionGroup("tasks", [KeyError("x"), refused]))
    assert not is_unavailable(ExceptionGroup("tasks", [KeyError("x")]))


def test_an_error_raised_from_none_or_a_domain_answer_is_not_an_outage() -> None:
    lock_wait = sa.OperationalError("INSERT", None, psycopg.errors.LockNotAvailable("lock timeout"))
    # A use case that turned a lock wait into its own answer (commit's `in_progress`) answered: no outage.
    in_progress = _raised_while_handling(OmnimanError(ErrorCode.IN_PROGRESS, "still in progress"), lock_wait)
    assert in_progress.__context__ is lock_wait and not is_unavailable(in_progress)
    try:
        try:
            raise lock_wait
        except sa.OperationalError:
            raise KeyError("handled") from None
    except KeyError as handled:
        assert not is_unavailable(handled)


def test_translated_wraps_once_and_keeps_the_driver_text_out_of_the_message() -> None:
    driver = psycopg.OperationalError('connection to server at "db.internal" (10.0.0.5), port 5432 failed')
    outage = translated(sa.OperationalError("SELECT 1", None, driver))
    assert isinstance(outage, Unavailable)
    assert "10.0.0.5" not in outage.message and "10.0.0.5" in outage.detail
    assert translated(outage) is None  # already an outage: raised as it is
    assert translated(KeyError("x")) is None
    assert error_body(outage) == {"errors": [{"message": "The database is unavailable; retry shortly.",
                                              "extensions": {"code": "UNAVAILABLE"}}]}


def test_the_outage_log_prints_one_line_per_interval_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    outages = OutageLog(logging.getLogger("test.outages"), every_s=3600)
    down = Unavailable("database", detail="OperationalError: refused")
    with caplog.at_level(logging.WARNING, logger="test.outages"):
        for _ in range(50):
            outages.failed(down, "http")
        outages.failed(Unavailable("broker"), "dispatch")
    assert [r.getMessage() for r in caplog.records] == [
        "database unavailable (http): OperationalError: refused",
        "broker unavailable (dispatch): The broker is unavailable; retry shortly.",
    ]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback for an outage
    outages.every_s = 0
    with caplog.at_level(logging.WARNING, logger="test.outages"):
        outages.failed(down, "http")
    assert caplog.records[-1].getMessage().endswith("(49 more since the last report)")

"""Database and broker failures told apart from bugs, in one place: `classify(exc)` and the `Unavailable` error."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Literal

import psycopg
import redis.exceptions
from sqlalchemy import exc as sa

from .errors import OmnimanError

Dependency = Literal["database", "broker"]

# SQLSTATEs of a PostgreSQL that answered but gave up waiting (a lock, a serialisation conflict, a deadlock, a
# statement timeout): the same request may well go through on a second try. Any other OperationalError, or one
# without a SQLSTATE (connection refused, closed or reset), is the database being down.
PG_BUSY_STATES = frozenset({"55P03", "40001", "40P01", "57014"})
# A server that takes no writes (a hot standby, e.g. during a failover): like a SQLite file that became read-only,
# the database is unavailable for writing, whatever the request.
PG_READ_ONLY = "25006"
# SQLite errors that are the file or the disk, not the statement ("no such table" stays a bug).
SQLITE_DOWN = ("unable to open", "disk i/o error", "readonly database", "disk is full", "malformed")
SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
# dramatiq's connection errors, told by name: the core does not import dramatiq (only tasks/ does).
DRAMATIQ_CONNECTION = frozenset({"BrokerConnectionError", "ConnectionError", "ConnectionFailed", "ConnectionClosed"})
MAX_LINKS = 16  # how far along __cause__/__context__ chains (and exception groups) a cause is looked for


class Unavailable(Exception):
    """The database or the broker could not serve a request: unreachable (`busy=False`) or it gave up waiting (a
    lock, the connection pool: `busy=True`). Nothing the caller sent was wrong and the same request may work in a
    moment; a use case that failed with it committed nothing, unless the connection was lost during COMMIT itself
    (then a retry with the same idempotency key answers the order that was made)."""

    def __init__(self, dependency: Dependency, *, busy: bool = False, detail: str = "") -> None:
        self.dependency: Dependency = dependency
        self.busy = busy
        self.detail = detail  # for the log only: a driver's text may name hosts and ports
        self.message = f"The {dependency} is {'busy' if busy else 'unavailable'}; retry shortly."
        super().__init__(self.message)


def classify(exc: BaseException) -> Unavailable | None:
    """The outage `exc` stands for (looking through its causes and exception groups), or None: a bug or bad input."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(seen) < MAX_LINKS:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        found = _classify_one(current)
        if found is not None:
            return found
        if isinstance(current, OmnimanError):  # a use case's answer, even one given because of a lock wait
            continue
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
        if current.__context__ is not None and not current.__suppress_context__:  # `from None`: dealt with
            pending.append(current.__context__)
    return None


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` is a database or broker outage (see `classify`)."""
    return classify(exc) is not None


def _classify_one(exc: BaseException) -> Unavailable | None:
    if isinstance(exc, Unavailable):
        return exc
    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated:
            return Unavailable("database", detail=_detail(exc.orig or exc))
        if isinstance(exc, sa.OperationalError | sa.InterfaceError) and exc.orig is not None:
            return _classify_one(exc.orig)
        if getattr(exc.orig, "sqlstate", None) == PG_READ_ONLY:
            return Unavailable("database", detail=_detail(exc.orig or exc))
        return None
    if isinstance(exc, sa.TimeoutError):  # no pooled connection came free in time
        return Unavailable("database", busy=True, detail=_detail(exc))
    if isinstance(exc, psycopg.OperationalError):
        return Unavailable("database", busy=getattr(exc, "sqlstate", None) in PG_BUSY_STATES, detail=_detail(exc))
    if isinstance(exc, psycopg.InterfaceError):  # e.g. "the connection is closed"
        return Unavailable("database", detail=_detail(exc))
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        if any(part in text for part in SQLITE_BUSY):
            return Unavailable("database", busy=True, detail=_detail(exc))
        if any(part in text for part in SQLITE_DOWN):
            return Unavailable("database", detail=_detail(exc))
        return None
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return Unavailable("broker", detail=_detail(exc))
    if any(kind.__module__.startswith("dramatiq") and kind.__name__ in DRAMATIQ_CONNECTION
           for kind in type(exc).__mro__):
        return Unavailable("broker", detail=_detail(exc))
    return None


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


class OutageLog:
    """Logs outages as one warning line, without a traceback (an outage is not a bug, and every request fails the
    same way while it lasts): the first at once, then at most one line per `every_s` per dependency, counting the
    failures it did not print."""

    def __init__(self, logger: logging.Logger, *, every_s: float = 10.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._last: dict[str, tuple[float, int]] = {}  # "database"/"broker" → (when printed, failures since)

    def reset(self) -> None:
        """Forget what was printed: the next outage is printed at once."""
        self._last.clear()

    def failed(self, outage: Unavailable, where: str) -> None:
        now = time.monotonic()
        key = f"{outage.dependency}:{outage.busy}"
        printed, since = self._last.get(key, (float("-inf"), 0))
        if now - printed < self.every_s:
            self._last[key] = (printed, since + 1)
            return
        self._last[key] = (now, 0)
        more = f" ({since} more since the last report)" if since else ""
        self.logger.warning("%s %s (%s): %s%s", outage.dependency, "busy" if outage.busy else "unavailable", where,
                            outage.detail or outage.message, more)


outage_log = OutageLog(logging.getLogger("omniman.outages"))


def translated(exc: BaseException) -> Unavailable | None:
    """A new `Unavailable` to raise from `exc` when `exc` is an outage that is not one already, else None."""
    if isinstance(exc, Unavailable):
        return None
    outage = classify(exc)
    return None if outage is None else Unavailable(outage.dependency, busy=outage.busy, detail=outage.detail)


def error_body(outage: Unavailable) -> dict[str, list[dict[str, object]]]:
    """The GraphQL-shaped JSON body of a request refused because of `outage` (nothing of it ran)."""
    return {"errors": [{"message": outage.message, "extensions": {"code": "UNAVAILABLE"}}]}


def logged_outage(exc: BaseException, where: str) -> Unavailable | None:
    """The outage `exc` stands for, reported once through `outage_log`; None (nothing logged) for anything else."""
    outage = classify(exc)
    if outage is not None:
        outage_log.failed(outage, where)
    return outage

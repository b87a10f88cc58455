"""Health of the hub's dependencies (database, broker) and the `GET /health` endpoint."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import __version__
from ..runtime import Hub
from ..settings import Settings
from .sqlite import READONLY as READONLY_UNIT

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class HealthReport:
    database: str
    broker: str

    @property
    def failing(self) -> list[str]:
        return [name for name, state in (("database", self.database), ("broker", self.broker)) if state != "ok"]

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"status": "ok" if not self.failing else "unavailable", "version": __version__,
                                   "database": self.database, "broker": self.broker}
        if self.failing:
            body["failing"] = self.failing
        return body


READ_ONLY = "read_only"
# In a fresh transaction: whether writes would be refused (a hot standby, `default_transaction_read_only`).
POSTGRESQL_READ_ONLY = text("SELECT current_setting('transaction_read_only') = 'on'")


async def check_database(hub: Hub) -> str:
    """`ok`, `read_only` (it answers reads but would refuse every write: the hub cannot take an order) or
    `unavailable (…)`."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            # SQLite: a plain BEGIN, not the writers' BEGIN IMMEDIATE (which would wait behind a busy writer)
            async with hub.engine.execution_options(**{READONLY_UNIT: True}).connect() as conn:
                if hub.settings.is_sqlite:
                    await conn.execute(text("SELECT 1"))
                    read_only = await asyncio.to_thread(sqlite_refuses_writes, hub)
                else:
                    read_only = bool((await conn.execute(POSTGRESQL_READ_ONLY)).scalar())
                await conn.rollback()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the reason goes to the log and the body
        log.warning("health: database check failed: %r", exc)
        return f"unavailable ({type(exc).__name__})"
    if read_only:
        log.warning("health: the database refuses writes")
        return READ_ONLY
    return "ok"


def sqlite_refuses_writes(hub: Hub) -> bool:
    """A write that is rolled back, on a connection of its own to the same URL (a file opened `?mode=ro`, without
    write permission or on a read-only mount refuses it). SQLite opens such files for reading without a word, so
    only a write tells. It does not wait for the lock: a writer holding it proves writes are accepted."""
    args, params = hub.engine.dialect.create_connect_args(hub.engine.url)
    conn = sqlite3.connect(*args, uri=bool(params.get("uri")), timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {int(version)}")  # the same value; rolled back anyway
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY":
            return True
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_BUSY":
            return False
        raise
    finally:
        conn.close()
    return False


async def check_broker(settings: Settings) -> str:
    """Redis when configured; the embedded in-process broker is up whenever this process is."""
    if not settings.redis_url:
        return "ok"
    import redis.asyncio as aioredis

    client = aioredis.from_url(settings.redis_url, socket_connect_timeout=CHECK_TIMEOUT_S,
                               socket_timeout=CHECK_TIMEOUT_S)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await client.ping()
    except Exception as exc:  # noqa: BLE001
        log.warning("health: broker check failed: %r", exc)
        return f"unavailable ({type(exc).__name__})"
    finally:
        await client.aclose()
    return "ok"


async def check(hub: Hub) -> HealthReport:
    database, broker = await asyncio.gather(check_database(hub), check_broker(hub.settings))
    return HealthReport(database=database, broker=broker)


async def health_endpoint(request: Request) -> JSONResponse:
    """`GET /health`: 200 when every dependency answers, else 503 naming the failing ones."""
    report = await check(request.state.hub)
    return JSONResponse(report.as_dict(), status_code=200 if not report.failing else 503,
                        headers={"Cache-Control": "no-store"})

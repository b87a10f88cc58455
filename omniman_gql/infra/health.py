"""Health of the hub's dependencies (database, broker) and the `GET /health` endpoint."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import __version__
from ..runtime import Hub
from ..settings import Settings

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


async def check_database(hub: Hub) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            async with hub.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the reason goes to the log and the body
        log.warning("health: database check failed: %r", exc)
        return f"unavailable ({type(exc).__name__})"
    return "ok"


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

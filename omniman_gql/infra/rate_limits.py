"""Rate limits (concepts.md §17): fixed windows per API token and operation class, and failed authentications per
client address, counted by the `limits` library in Redis (shared by every web process) or in process memory."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from ..settings import Settings

log = logging.getLogger(__name__)
CLASSES = ("modify", "commit", "read")
AUTH_FAILURES = "auth_failures"
STORE_TIMEOUT_S = 0.5  # longest wait for Redis on one request before the limits are skipped for it
WARN_EVERY_S = 30.0
SUSPECTS_MAX = 10_000  # addresses remembered as recently failing (bounded: a flood of addresses cannot grow it)


@dataclass(frozen=True)
class Refusal:
    """A request over a limit: which limit (`modify`, `commit`, `read` or `auth_failures`) and when to come back."""

    limit: str
    retry_after: int  # whole seconds, ≥ 1


class RateLimiter:
    """Charges requests against the configured rates. One Redis round trip per charge when Redis is configured (a
    Lua INCR+EXPIRE by `limits`), a dict operation otherwise; the window's reset time is asked only when refusing.

    Failed authentications are counted per address in the shared store; a request with a token is checked against
    that count only from an address this process saw fail within the window (the check costs a round trip, and
    clean addresses are the hot path). So a good token from a blocked address is refused by every process that saw
    the address fail lately, and every bad token is refused by every process."""

    def __init__(self, settings: Settings, storage: Storage, pool: ConnectionPool | None = None) -> None:
        self.storage = storage
        self._pool = pool
        self.strategy = FixedWindowRateLimiter(storage)
        self.items: dict[str, RateLimitItem] = {
            "modify": parse(settings.rate_limit_modify), "commit": parse(settings.rate_limit_commit),
            "read": parse(settings.rate_limit_read), AUTH_FAILURES: parse(settings.rate_limit_auth_failures)}
        self._suspects: dict[str, float] = {}  # address -> until when this process checks it (monotonic)
        self._quiet_until = 0.0  # no second warning about the store before then (monotonic)

    @classmethod
    def create(cls, settings: Settings) -> RateLimiter:
        """Redis storage under `<broker_namespace>:ratelimit` when `redis_url` is set, else process memory."""
        if not settings.redis_url:
            return cls(settings, MemoryStorage())
        # Ours, so that `close` can let go of it; bounded waits, so that a Redis gone silent delays requests little
        pool = ConnectionPool.from_url(settings.redis_url, socket_connect_timeout=STORE_TIMEOUT_S,
                                       socket_timeout=STORE_TIMEOUT_S)
        storage = RedisStorage(f"async+{settings.redis_url}", implementation="redispy", wrap_exceptions=True,
                               connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py's client
                               key_prefix=f"{settings.broker_namespace}:ratelimit")
        return cls(settings, storage, pool)

    async def charge(self, classes: Iterable[str], identity: str) -> Refusal | None:
        """Count one request of each class for `identity` (a token); the first class over its rate refuses it.
        Classes charged before the refusing one stay charged (the request was still attempted)."""
        return await self._failing_open(self._charge(classes, identity))

    async def blocked_address(self, address: str) -> Refusal | None:
        """The refusal for an address over its failed-authentication rate, checked only where this process saw it
        fail within the window (else None at no cost)."""
        if address not in self._suspects:
            return None
        return await self._failing_open(self._blocked(address))

    async def failed_authentication(self, address: str) -> Refusal | None:
        """Count a failed authentication from `address`; a refusal when that one is over the rate."""
        return await self._failing_open(self._failed(address))

    async def _failing_open(self, work: Awaitable[Refusal | None]) -> Refusal | None:
        """The store's answer; when the store cannot answer (Redis away or slow), the request is let through: the
        limits protect the hub, they must not take it down with Redis (its outage is reported elsewhere)."""
        try:
            return await work
        except StorageError as exc:
            now = time.monotonic()
            if now >= self._quiet_until:
                self._quiet_until = now + WARN_EVERY_S
                log.warning("rate limits not enforced: their store did not answer (%s)", exc.storage_error)
            return None

    async def _charge(self, classes: Iterable[str], identity: str) -> Refusal | None:
        for name in classes:
            item = self.items[name]
            if not await self.strategy.hit(item, name, identity):
                return await self._refusal(name, identity)
        return None

    async def _blocked(self, address: str) -> Refusal | None:
        until = self._suspects.get(address)
        if until is None:
            return None
        if until <= time.monotonic():
            self._suspects.pop(address, None)
            return None
        item = self.items[AUTH_FAILURES]
        if await self.strategy.test(item, AUTH_FAILURES, address):
            return None
        return await self._refusal(AUTH_FAILURES, address)

    async def _failed(self, address: str) -> Refusal | None:
        item = self.items[AUTH_FAILURES]
        if len(self._suspects) >= SUSPECTS_MAX:
            self._suspects.clear()  # forgetting only costs a later check; the counts stay in the store
        self._suspects[address] = time.monotonic() + item.get_expiry()
        if await self.strategy.hit(item, AUTH_FAILURES, address):
            return None
        return await self._refusal(AUTH_FAILURES, address)

    async def _refusal(self, name: str, identity: str) -> Refusal:
        stats = await self.strategy.get_window_stats(self.items[name], name, identity)
        return Refusal(name, max(1, math.ceil(stats.reset_time - time.time())))

    async def close(self) -> None:
        """Let go of the store's connections (Redis)."""
        if self._pool is not None:
            await self._pool.aclose()


@asynccontextmanager
async def rate_limiting(hub: Any) -> AsyncIterator[dict[str, Any]]:
    """The rate limits' part of an app lifespan: yields `{"rate_limits": RateLimiter}`, or None when
    `rate_limits` is off (requests then pay nothing for them)."""
    limiter = RateLimiter.create(hub.settings) if hub.settings.rate_limits else None
    try:
        yield {"rate_limits": limiter}
    finally:
        if limiter is not None:
            await limiter.close()

"""The rate limiter when its store cannot answer: requests are let through (fail open), never refused or failed."""

from __future__ import annotations

import socket

import pytest

from omniman_gql.infra.rate_limits import RateLimiter
from omniman_gql.settings import Settings

pytestmark = pytest.mark.anyio


def closed_port() -> int:
    with socket.socket() as sock:  # bound, then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_rate_limiter_lets_requests_through_when_redis_does_not_answer() -> None:
    settings = Settings(redis_url=f"redis://127.0.0.1:{closed_port()}/0", rate_limit_commit="1/minute",
                        rate_limit_auth_failures="1/minute")
    limiter = RateLimiter.create(settings)
    try:
        for _ in range(3):  # over every rate, were the counts kept
            assert await limiter.charge(("commit",), "t1") is None
            assert await limiter.failed_authentication("203.0.113.9") is None
            assert await limiter.blocked_address("203.0.113.9") is None
    finally:
        await limiter.close()


async def test_rate_limiter_in_memory_refuses_past_the_rate_with_retry_after() -> None:
    limiter = RateLimiter.create(Settings(redis_url=None, rate_limit_commit="2/hour"))
    assert [await limiter.charge(("commit",), "t1") for _ in range(2)] == [None, None]
    refusal = await limiter.charge(("commit",), "t1")
    assert refusal is not None and refusal.limit == "commit" and 3590 <= refusal.retry_after <= 3600
    assert await limiter.charge(("commit",), "t2") is None  # another token has its own budget
    await limiter.close()

"""The GraphQL edge of the rate limits: who is charged, and the RATE_LIMITED answer (HTTP 429 with `Retry-After`,
a websocket `error` message or close)."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from omniman_gql.infra import observability
from omniman_gql.infra.rate_limits import RateLimiter, Refusal
from omniman_gql.services.auth import Principal

RATE_LIMITED = "RATE_LIMITED"
WS_RATE_LIMITED = 4429  # the close code of a websocket whose `connection_init` is over a rate (like the socket cap)
MESSAGES = {
    "auth_failures": "Too many requests with a bad API token from this address",
    "modify": "Too many modifying mutations (modifySession, resolveIssue) with this API token",
    "commit": "Too many commits (commitSession, importOrder) with this API token",
    "read": "Too many queries with this API token",
}


class RateLimited(Exception):
    """The request is over a rate limit: nothing of it runs."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.limit)
        self.refusal = refusal
        observability.request_refused(refusal.limit)


def limiter_of(connection: HTTPConnection) -> RateLimiter | None:
    """The app's limiter (None when the limits are off, or for an app without the rate-limits lifespan)."""
    return getattr(connection.state, "rate_limits", None)


def client_address(connection: HTTPConnection) -> str:
    """The client's address: the TCP peer, or what a trusted proxy said in `X-Forwarded-For` (uvicorn replaces the
    peer with it only for the addresses of `--forwarded-allow-ips`)."""
    client = connection.client
    return client.host if client is not None else "unknown"


def identity(principal: Principal) -> str:
    """What a token's counts are kept under: its id (names of revoked tokens may be reused)."""
    return f"t{principal.token_id}" if principal.token_id is not None else f"n:{principal.name}"


def message(refusal: Refusal) -> str:
    return f"{MESSAGES[refusal.limit]}: try again in {refusal.retry_after} s."


def error(refusal: Refusal) -> dict[str, Any]:
    """The top-level GraphQL error: `extensions.code = RATE_LIMITED` and `extensions.retryAfter` (seconds)."""
    return {"message": message(refusal),
            "extensions": {"code": RATE_LIMITED, "retryAfter": refusal.retry_after, "limit": refusal.limit}}


def too_many_requests(refusal: Refusal) -> Response:
    """HTTP 429 with `Retry-After`: the whole request was refused, nothing ran."""
    return JSONResponse({"data": None, "errors": [error(refusal)]}, status_code=429,
                        headers={"retry-after": str(refusal.retry_after)})


async def check_address(connection: HTTPConnection) -> None:
    """Raise RateLimited when the caller's address is over its failed-authentication rate."""
    limiter = limiter_of(connection)
    if limiter is not None:
        refusal = await limiter.blocked_address(client_address(connection))
        if refusal is not None:
            raise RateLimited(refusal)


async def failed_authentication(connection: HTTPConnection) -> None:
    """Count a bad token from the caller's address; raise RateLimited when that one is over the rate."""
    limiter = limiter_of(connection)
    if limiter is not None:
        refusal = await limiter.failed_authentication(client_address(connection))
        if refusal is not None:
            raise RateLimited(refusal)


async def charge(connection: HTTPConnection, principal: Principal, classes: tuple[str, ...]) -> None:
    """Charge the token for an operation of these classes; raise RateLimited when one is over its rate."""
    limiter = limiter_of(connection)
    if limiter is not None and classes:
        refusal = await limiter.charge(classes, identity(principal))
        if refusal is not None:
            raise RateLimited(refusal)

"""An admin token for plain HTTP endpoints (`/metrics`): 401 without a live token, 403 for another role, as JSON."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..services.auth import Action, authenticate, bearer_secret


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"} if status == 401 else None
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status,
                        headers=headers)


async def admin_refusal(request: Request) -> JSONResponse | None:
    """None when the request carries a live admin token (`Authorization: Bearer …`), else the response to send."""
    secret = bearer_secret(request.headers.get("authorization"))
    if not secret:
        return _refusal(401, "UNAUTHENTICATED", "An admin API token is required: send `Authorization: Bearer <token>`.")
    tokens = getattr(request.state, "tokens", None)  # the live stream's TokenCache, when the app has one
    principal = await (tokens.authenticate(secret) if tokens is not None else authenticate(request.state.hub, secret))
    if principal is None:
        return _refusal(401, "UNAUTHENTICATED", "The API token is unknown or revoked.")
    if not principal.can(Action.ADMIN):
        return _refusal(403, "FORBIDDEN", "Only an admin token may read this.")
    return None

"""Every refusal outside the GraphQL view is JSON too: Starlette's own 404/405 and a refused CORS preflight."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def refusal(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status,
                        headers={"cache-control": "no-store", **(headers or {})})


async def http_exception(_request: Request, exc: Exception) -> Response:
    """Starlette's routing refusals (an unknown path, a method a route does not take) as GraphQL-shaped JSON."""
    assert isinstance(exc, HTTPException)
    if exc.status_code < 400:  # e.g. a 304 raised by a handler: nothing to explain
        return Response(status_code=exc.status_code, headers=exc.headers)
    return refusal(exc.status_code, str(exc.detail), CODES.get(exc.status_code, "BAD_REQUEST"),
                   dict(exc.headers or {}))


class JsonCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, whose refused preflight (an origin, method or header not allowed) answers JSON, not text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        message = bytes(response.body).decode() + " (see OMNIMAN_CORS_ORIGINS)"
        return refusal(400, message, "CORS_NOT_ALLOWED", {
            key: value for key, value in response.headers.items() if key.startswith("access-control-")})

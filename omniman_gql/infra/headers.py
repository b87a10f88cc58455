"""Security headers on every HTTP response: a Content-Security-Policy (a page's own where it needs more), nosniff,
no referrer and no framing, also on errors (404, 405, 413, an outage's 503 and an unexpected 500)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..outages import error_body, logged_outage

# Anything that is not a page (JSON, metrics, static files, errors) may load nothing and be framed by no one.
STRICT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
FIXED_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),  # a `?token=` in a page's address must not reach another site
    ("x-frame-options", "DENY"),  # frame-ancestors for browsers that predate CSP level 2
)
INTERNAL = {"errors": [{"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}


class SecurityHeaders:
    """Adds the headers to each HTTP response that does not set them itself. `page_policies` maps a path (and
    everything under it: `/kds` covers `/kds/assets/…`) to the CSP its pages need; other paths get `STRICT_POLICY`."""

    def __init__(self, app: ASGIApp, *, page_policies: Mapping[str, str] | None = None,
                 retry_after_s: int = 2) -> None:
        self.app = app
        self.retry_after_s = retry_after_s  # `Retry-After` of a 503 for a database or broker outage
        # longest path first, so `/kds/assets` could have a policy of its own beside `/kds`
        self.page_policies = sorted((page_policies or {}).items(), key=lambda item: -len(item[0]))

    def policy_for(self, path: str) -> str:
        for prefix, policy in self.page_policies:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return policy
        return STRICT_POLICY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy_for(scope.get("path", ""))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", policy)
                for name, value in FIXED_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            # A database or broker outage outside GraphQL (e.g. `/metrics`' token check): the 503 a client may retry,
            # logged once per outage rather than as a traceback per request.
            outage = logged_outage(exc, scope.get("path", ""))
            if outage is not None and not started:
                await JSONResponse(error_body(outage), status_code=503, headers={
                    "retry-after": str(self.retry_after_s)})(scope, receive, send_with_headers)
                return
            # Starlette's outermost handler would answer a plain-text 500 without these headers: answer it here
            # (as JSON, like every other error), then let the exception go on to be logged.
            if not started:
                await JSONResponse(INTERNAL, status_code=500)(scope, receive, send_with_headers)
            raise

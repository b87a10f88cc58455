"""The ASGI application: Starlette whose lifespan owns the Hub, plus `/health`, `/metrics`, security headers and a
request-size limit.

Plugging things in (the composition roots, `schema.asgi` and tests, do this):

- `routes`: the endpoints (the GraphQL view lives in `schema`; this package never imports it).
- `hub_factory(settings) -> Hub`: how the Hub is made, e.g. `lambda s: Hub.create(s, dispatcher=DramatiqDispatcher(),
  publisher=RedisPubSub(s))` to send directives to a broker and live events to subscribers.
- `on_startup`: `async def hook(hub)` coroutines run once the Hub exists, before the first request.
- `extra_lifespans`: `hub -> async context manager` entered after `on_startup` and exited, in reverse order, before
  the Hub is disposed: an embedded dramatiq worker, a sweeper task, a pub/sub listener… A dict it yields is added
  to the lifespan state (so requests see it on `request.state`).

Requests reach the Hub as `request.state.hub` (Starlette's lifespan state): no module-level globals.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..runtime import Hub
from ..settings import Settings, get_settings
from .headers import SecurityHeaders
from .health import health_endpoint
from .http_errors import JsonCORSMiddleware, http_exception
from .observability import ObservabilityMiddleware, metrics_endpoint

HubFactory = Callable[[Settings], Hub]
StartupHook = Callable[[Hub], Awaitable[None]]
HubLifespan = Callable[[Hub], AbstractAsyncContextManager[Any]]


def create_app(
    settings: Settings | None = None,
    *,
    routes: Sequence[BaseRoute] = (),
    hub_factory: HubFactory = Hub.create,
    on_startup: Sequence[StartupHook] = (),
    extra_lifespans: Sequence[HubLifespan] = (),
    middleware: Sequence[Middleware] = (),
    page_policies: Mapping[str, str] | None = None,
) -> Starlette:
    """The hub's web application for `settings` (the environment's when None). `page_policies`: the
    Content-Security-Policy of the browser pages under a path (see `SecurityHeaders`)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        hub = hub_factory(settings)
        try:
            async with AsyncExitStack() as stack:
                for hook in on_startup:
                    await hook(hub)
                state: dict[str, Any] = {"hub": hub}
                for enter in extra_lifespans:
                    value = await stack.enter_async_context(enter(hub))
                    if isinstance(value, dict):  # a part may add to the lifespan state (e.g. {"live": …})
                        state.update(value)
                # What exists once the app is up (the schema's objects, modules, the Hub) lives as long as the
                # process: out of the collector's sight, young collections stay short and a full one no longer walks
                # them (a latency spike at saturation). Given back at shutdown, so processes that start many apps
                # (tests) collect them as before.
                gc.freeze()
                try:
                    yield state
                finally:
                    gc.unfreeze()
        finally:
            await hub.dispose()

    metrics = [Route("/metrics", metrics_endpoint, methods=["GET"])] if settings.metrics else []
    # Pages on these origins may call the API (the websocket's origin check is the GraphQL view's, same setting).
    # Bearer tokens, not cookies: no credentials mode is needed.
    cors = [Middleware(JsonCORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type"], max_age=600)] if settings.cors_origins else []
    app = Starlette(
        routes=[Route("/health", health_endpoint, methods=["GET"]), *metrics, *routes],
        middleware=[Middleware(SecurityHeaders, page_policies=page_policies,  # outermost: on every response
                               retry_after_s=settings.unavailable_retry_after_s),
                    *cors,  # a preflight is answered here, before the size limit and the routes
                    Middleware(ObservabilityMiddleware, settings=settings),  # sees every status, 413 too
                    Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
                    # responses over 1 KiB gzip-compressed for clients that accept it; websockets pass untouched
                    Middleware(GZipMiddleware, minimum_size=1024), *middleware],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception},  # 404 and 405 as JSON, like every other refusal
    )
    app.state.settings = settings
    return app


class BodySizeLimit:
    """Refuse HTTP request bodies over `max_bytes` with 413, whether or not they declare a Content-Length."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        accept = dict(scope.get("headers") or ()).get(b"accept", b"").lower()
        media = ("application/graphql-response+json; charset=utf-8" if b"application/graphql-response+json" in accept
                 else "application/json")  # GraphQL over HTTP: the media type the client asked for
        response = JSONResponse({"errors": [{"message": f"Request body is larger than {self.max_bytes} bytes.",
                                             "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]}, status_code=413,
                                headers={"cache-control": "no-store"}, media_type=media)
        await response(scope, receive, send)


class BodyTooLarge(Exception):
    pass

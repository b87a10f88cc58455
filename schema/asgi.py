"""Composition root of the web process: the uvicorn factory `schema.asgi:create_app`."""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from omniman_gql.infra import app as core_app
from omniman_gql.infra.log_redaction import redact_access_log
from omniman_gql.infra.rate_limits import rate_limiting
from omniman_gql.live.stream import live_stream
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings, get_settings
from tasks.dispatch import dispatcher_for
from tasks.embedded import embedded_runtime

from .accel_uvicorn import KeepTransportSend
from .build import build_schema
from .console import CONTENT_SECURITY_POLICY as CONSOLE_POLICY
from .console import console_routes
from .graphiql import content_security_policy, graphiql_page
from .kds import CONTENT_SECURITY_POLICY as KDS_POLICY
from .kds import kds_routes
from .static_files import static_routes
from .view import OmnimanGraphQL


def _view_class(settings: Settings) -> type[OmnimanGraphQL]:
    if not settings.accelerate:
        return OmnimanGraphQL
    from .accel_strawberry.http import AcceleratedGraphQL  # imported only when used: it leans on Strawberry's internals

    return AcceleratedGraphQL


def create_app(settings: Settings | None = None, *, run_directives: bool = True, **options: object) -> Starlette:
    """The hub's ASGI app: `/graphql` (HTTP, GraphiQL, websockets), `/health`, the kitchen display (`/kds`) and
    the operator console (`/console`).

    `run_directives`: directives are sent to dramatiq after each commit; with a `redis_url` to the Redis broker
    (`omniman worker` processes run them), without one to an in-process worker and sweeper started with the app (the
    embedded default). False leaves them queued in the database (tests that run them by hand).
    `options` go to `omniman_gql.infra.app.create_app` (hub_factory, on_startup, extra_lifespans).
    """
    settings = settings or get_settings()
    redact_access_log()  # `/kds?token=…` must not write the token into the access log
    view = _view_class(settings)(build_schema(settings), settings=settings)
    routes = [Route("/graphql", view), WebSocketRoute("/graphql", view), *kds_routes(), *console_routes(),
              *static_routes()]
    if run_directives:
        options.setdefault("hub_factory", lambda s: Hub.create(s, dispatcher=dispatcher_for(s)))
        if not settings.redis_url:  # last: the worker publishes through the publisher the parts before it set up
            options["extra_lifespans"] = [*options.get("extra_lifespans", ()), embedded_runtime]  # type: ignore[misc]
    # The live stream goes first: its pub/sub becomes the Hub's publisher before any worker starts publishing.
    lifespans = [live_stream, rate_limiting, *options.pop("extra_lifespans", ())]  # type: ignore[misc]
    if settings.accelerate:  # innermost of ours: sees a websocket's `send` as the server made it (RawFrames)
        options["middleware"] = [*options.get("middleware", ()), Middleware(KeepTransportSend)]  # type: ignore[misc]
    # The pages' own policies (GraphiQL's inline scripts, the display's and console's files); else the strict one.
    policies = {"/kds": KDS_POLICY, "/console": CONSOLE_POLICY}
    if settings.graphiql:
        policies["/graphql"] = content_security_policy(graphiql_page(view.graphql_ide_html))
    return core_app.create_app(settings, routes=routes, extra_lifespans=lifespans,  # type: ignore[arg-type]
                               page_policies=policies, **options)

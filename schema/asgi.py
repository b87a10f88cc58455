"""Composition root of the web process: the uvicorn factory `schema.asgi:create_app`."""

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from omniman_gql import app as core_app
from omniman_gql.feeds import live_stream
from omniman_gql.settings import Settings, get_settings

from .build import build_schema
from .view import OmnimanGraphQL


def create_app(settings: Settings | None = None, **options: object) -> Starlette:
    """The hub's ASGI app: `/graphql` (HTTP, GraphiQL, websockets) and `/health`.

    `options` go to `omniman_gql.app.create_app` (hub_factory, on_startup, extra_lifespans): this is where the
    directive dispatcher and an embedded worker get wired in.
    """
    settings = settings or get_settings()
    view = OmnimanGraphQL(build_schema(settings), settings=settings)
    routes = [Route("/graphql", view, methods=["GET", "POST"]), WebSocketRoute("/graphql", view)]
    # The live stream goes first: its pub/sub becomes the Hub's publisher before any worker starts publishing.
    lifespans = [live_stream, *options.pop("extra_lifespans", ())]  # type: ignore[misc]
    return core_app.create_app(settings, routes=routes, extra_lifespans=lifespans, **options)  # type: ignore[arg-type]

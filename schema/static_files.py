"""The hub's own browser files under `/static/`: the vendored GraphiQL and `omniman-live.js` (resuming streams)."""

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")


def static_routes() -> list[BaseRoute]:
    """`/static/graphiql/…` (what `schema.graphiql` points the page at) and `/static/omniman-live.js`."""
    return [Mount("/static", app=StaticFiles(directory=STATIC), name="static")]

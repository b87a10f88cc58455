"""The hub's own browser files under `/static/`: the vendored GraphiQL and `omniman-live.js` (resuming streams)."""

from pathlib import Path

from starlette.routing import BaseRoute, Mount

from .static_cache import CachedStaticFiles

STATIC = Path(__file__).with_name("static")


def static_routes() -> list[BaseRoute]:
    """`/static/graphiql/…` (what `schema.graphiql` points the page at; vendored, cached for a day) and
    `/static/omniman-live.js` (ours, revalidated)."""
    return [Mount("/static", app=CachedStaticFiles(directory=STATIC, long_lived=("graphiql/",)), name="static")]

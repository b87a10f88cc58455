"""The kitchen display: a static page at `/kds` (plain HTML + JS, no build step) and its assets at `/kds/assets/`.

The page is a GraphQL client like any other (it sends the caller's token; it holds no data itself), so serving it
needs nothing from the Hub. `schema.asgi` mounts these routes next to `/graphql`.
"""

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ..static_cache import CachedStaticFiles

STATIC = Path(__file__).with_name("static")
# Scripts only from this origin; the API and the websocket are this origin too. The app's SecurityHeaders sends it
# on `/kds` and everything under it (the assets, `/kds/assets/index.html` too), with nosniff and no referrer.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                           "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


async def kds_page(request: Request) -> Response:
    """The display itself; `?channels=pos,ecommerce` limits it to those channels, `?token=` signs it in."""
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"})


def kds_routes() -> list[BaseRoute]:
    return [
        Route("/kds", kds_page, methods=["GET"]),
        Mount("/kds/assets", app=CachedStaticFiles(directory=STATIC), name="kds-assets"),
    ]

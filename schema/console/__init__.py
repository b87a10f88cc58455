"""The operator console: a static page set at `/console` (plain HTML + JS modules, no build step) and its assets.

Like the kitchen display, the page is a GraphQL client of the public API; the token lives in the browser's
localStorage and is never taken from the address (it would reach the access log). The vendored graphql-ws client is
the kitchen display's own copy, served under the console's asset path too (one vendored file, one policy).
"""

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..kds import STATIC as KDS_STATIC

STATIC = Path(__file__).with_name("static")
# Scripts, styles and the websocket only from this origin; no inline script or style (the page builds its DOM with
# createElement and sets no style attributes), no framing. `SecurityHeaders` sends it on `/console` and below.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                           "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


async def console_page(request: Request) -> Response:
    """The console's single page; its views live behind the address's `#/…` fragment."""
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"})


def console_routes() -> list[BaseRoute]:
    return [
        Route("/console", console_page, methods=["GET"]),
        Mount("/console/assets/vendor", app=StaticFiles(directory=KDS_STATIC / "vendor"), name="console-vendor"),
        Mount("/console/assets", app=StaticFiles(directory=STATIC), name="console-assets"),
    ]

"""A page on another origin in a real headless Chromium: with its origin in `OMNIMAN_CORS_ORIGINS` it checks out
over fetch (a CORS preflight for `Authorization`) and receives the order's live `orderEvents` over a websocket;
without it, the browser refuses the fetch and the hub refuses the websocket (403)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.fixtures.app import serving
from tests.graphql import create_token_in
from tests.ops.cdp import Page, chromium

pytestmark = pytest.mark.slow

UPSERT = """mutation($input: ChannelInput!) { upsertChannel(input: $input) { errors { code } } }"""
# The page: a checkout over fetch and a graphql-transport-ws subscription by hand (no library: the browser's own
# fetch and WebSocket are what CORS and the origin check apply to).
PAGE = """<!doctype html><meta charset="utf-8"><title>shop</title><script>
async function gql(api, token, query, variables) {
  const response = await fetch(api + "/graphql", {method: "POST", body: JSON.stringify({query, variables}),
    headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token}});
  return response.json();
}
window.run = async (api, token) => {
  const out = {events: [], socket: "opening", fetch: null};
  window.out = out;
  const ws = new WebSocket(api.replace("http", "ws") + "/graphql", "graphql-transport-ws");
  ws.onopen = () => ws.send(JSON.stringify({type: "connection_init", payload: {Authorization: "Bearer " + token}}));
  ws.onclose = (e) => { out.socket = "closed " + e.code; };
  const subscribed = new Promise((resolve) => { ws.onmessage = (m) => {
    const message = JSON.parse(m.data);
    if (message.type === "connection_ack") {
      ws.send(JSON.stringify({id: "1", type: "subscribe", payload: {
        query: "subscription { orderEvents(channelCodes: [\\"web\\"]) { type order { ref } } }"}}));
      out.socket = "subscribed"; setTimeout(resolve, 300);
    } else if (message.type === "next") { out.events.push(message.payload.data.orderEvents); }
  }; ws.onclose = (e) => { out.socket = "closed " + e.code; resolve(); }; });
  await subscribed;
  try {
    const session = {channelCode: "web", sessionKey: "S-" + Math.random().toString(36).slice(2)};
    await gql(api, token, "mutation($i: OpenSessionInput!) { openSession(input: $i) { errors { code } } }",
              {i: session});
    await gql(api, token, "mutation($i: ModifySessionInput!) { modifySession(input: $i) { errors { code } } }",
              {i: {...session, ops: [{addLine: {sku: "COFFEE", qty: "1", unitPriceQ: 500}}]}});
    const done = await gql(api, token, "mutation($i: CommitSessionInput!) { commitSession(input: $i) { " +
                           "result { orderRef } errors { code } } }",
                           {i: {...session, idempotencyKey: session.sessionKey}});
    out.fetch = done.data.commitSession.result.orderRef;
  } catch (error) { out.fetch = "refused: " + error; }
  return true;
};
</script>"""


@contextmanager
def page_server() -> Iterator[str]:
    """The shop's page, served from an origin of its own (another port)."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the standard library's name
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def shop(page: Page, origin: str, api: str, token: str) -> dict[str, object]:
    page.navigate(f"{origin}/shop.html")
    page.wait_for("typeof window.run === 'function'")
    page.evaluate(f"window.run({json.dumps(api)}, {json.dumps(token)})")
    return page.evaluate("window.out")  # type: ignore[no-any-return]


def test_a_page_on_another_origin_checks_out_and_follows_live_events(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, redis_url=None)
    admin = create_token_in(settings, "admin")
    with page_server() as origin, chromium(tmp_path / "profile") as page:
        allowed = settings.model_copy(update={"cors_origins": [origin]})
        with serving(create_app(allowed)) as api:
            created = httpx.post(f"{api}/graphql", json={"query": UPSERT, "variables": {"input": {"code": "web"}}},
                                 headers={"Authorization": f"Bearer {admin}"}, timeout=10).json()
            assert created == {"data": {"upsertChannel": {"errors": []}}}
            token = create_token_in(settings, "client", ["web"])
            out = shop(page, origin, api, token)
            assert out["socket"] == "subscribed" and str(out["fetch"]).startswith("ORD-"), (out, page.errors)
            page.wait_for(f"window.out.events.some(e => e.order.ref === {json.dumps(out['fetch'])})", timeout=10)
        with serving(create_app(settings)) as api:  # the same hub without the setting: refused both ways
            out = shop(page, origin, api, token)
            assert str(out["fetch"]).startswith("refused: TypeError"), out
            assert out["socket"] == "closed 1006" and out["events"] == [], out
            preflight = httpx.options(f"{api}/graphql", headers={
                "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type"}, timeout=5)
            assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers

"""CORS over HTTP (Starlette's middleware) and the websocket origin check, both driven by `OMNIMAN_CORS_ORIGINS`, on a
real server: preflights, `*`, and a handshake whose `Host` a dev proxy rewrote (its `Origin` is then foreign)."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.fixtures.app import serving
from tests.graphql import create_token_in, init_payload

DEV = "http://localhost:5173"  # a Vite dev server proxying /graphql with `changeOrigin: true`
PREFLIGHT = {"Origin": DEV, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}


def handshake(base_url: str, origin: str, token: str) -> str:
    """Open a graphql-transport-ws socket with this Origin (Host: the server's own) and init it: the first reply."""
    url = base_url.replace("http", "ws") + "/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"], origin=origin, open_timeout=5) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "connection_init", "payload": init_payload(token)}))
        return str(json.loads(ws.recv(timeout=5))["type"])


@pytest.mark.parametrize("origins", [[DEV], ["*"]], ids=["listed", "any"])
def test_an_allowed_origin_gets_preflights_and_websockets(settings: Settings, origins: list[str]) -> None:
    token = create_token_in(settings, "admin")
    with serving(create_app(settings.model_copy(update={"cors_origins": origins}), run_directives=False)) as base:
        preflight = httpx.options(f"{base}/graphql", headers=PREFLIGHT, timeout=5)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] in (DEV, "*")
        assert {"authorization", "content-type"} <= {
            h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
        assert "POST" in preflight.headers["access-control-allow-methods"]
        answer = httpx.post(f"{base}/graphql", json={"query": "{ channels { code } }"},
                            headers={"Origin": DEV, "Authorization": f"Bearer {token}"}, timeout=5)
        assert answer.json() == {"data": {"channels": []}}
        assert answer.headers["access-control-allow-origin"] in (DEV, "*")
        assert handshake(base, DEV, token) == "connection_ack"


def test_without_the_setting_other_origins_are_refused(settings: Settings) -> None:
    token = create_token_in(settings, "admin")
    with serving(create_app(settings.model_copy(update={"cors_origins": ["https://shop.example"]}),
                            run_directives=False)) as base:
        preflight = httpx.options(f"{base}/graphql", headers=PREFLIGHT, timeout=5)
        assert preflight.status_code == 400 and "access-control-allow-origin" not in preflight.headers
        assert preflight.json()["errors"][0]["extensions"]["code"] == "CORS_NOT_ALLOWED"
        with pytest.raises(InvalidStatus) as refused:
            handshake(base, DEV, token)
        assert refused.value.response.status_code == 403
        assert handshake(base, base, token) == "connection_ack"  # the hub's own origin (Host matches)
    with serving(create_app(settings, run_directives=False)) as base:
        preflight = httpx.options(f"{base}/graphql", headers=PREFLIGHT, timeout=5)
        assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers
        assert preflight.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
        with pytest.raises(InvalidStatus):
            handshake(base, DEV, token)
        assert handshake(base, base, token) == "connection_ack"

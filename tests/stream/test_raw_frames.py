"""Direct delivery's frames written straight to uvicorn's transport: the same messages as the ASGI path, on a real
server (uvicorn's websockets-sansio protocol), and the ASGI path kept where a socket uses compression."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection, connect

from omniman_gql.settings import Settings
from omniman_gql.shared_feeds import feed_groups, followers
from schema.asgi import create_app
from schema.fanout import WebSocketsSansIOProtocol, _frame_header
from schema.ws_auth import TEXTS_MAX, shared_text
from tests.api.operations import TRANSITION_ORDER, commit, make_channel, ok, open_with_lines
from tests.fixtures.app import Api, free_port, wait_for_health
from tests.fixtures.stream import wait_until
from tests.graphql import bearer, create_token_in
from tests.stream.wsclient import ORDER_EVENTS

CURSOR_ONLY = "subscription($channels: [String!]) { orderEvents(channelCodes: $channels) { cursor } }"


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536, 70000])
def test_frame_header_is_websockets_own_framing(length: int) -> None:
    payload = b"x" * length
    assert _frame_header(length) + payload == Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])


@pytest.fixture
def served(stream_settings: Settings) -> Iterator[tuple[str, dict[str, Any]]]:
    """The app on a real uvicorn (in a thread, permessage-deflate allowed as uvicorn's default); yields its base URL
    and the app's lifespan state (caught from the lifespan scope) to see its feeds, with the server as `server`."""
    app = create_app(stream_settings, run_directives=False)
    state: dict[str, Any] = {}

    async def catching_state(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            state.update(lifespan=scope["state"])
        await app(scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(catching_state, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="on", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, name="uvicorn-raw-frames", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.config.port}"
    try:
        wait_for_health(base_url)
        yield base_url, {**state["lifespan"], "server": server}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "uvicorn did not stop"


def _socket(base_url: str, *, compression: str | None) -> ClientConnection:
    return connect(base_url.replace("http", "ws") + "/graphql", compression=compression,
                   subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]


def _init(ws: ClientConnection, secret: str) -> None:
    ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}}))
    assert json.loads(ws.recv())["type"] == "connection_ack"


def _next(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv())
        if message["type"] == "ping":
            ws.send(json.dumps({"type": "pong"}))
            continue
        return message  # type: ignore[no-any-return]


def test_raw_frames_carry_the_asgi_paths_messages(served: tuple[str, dict[str, Any]],
                                                  stream_settings: Settings) -> None:
    base_url, state = served
    secret = create_token_in(stream_settings, "admin", name="raw-frames")
    with httpx.Client(base_url=base_url, headers=bearer(secret), timeout=30) as http:
        api = Api(http)  # type: ignore[arg-type]
        channel = make_channel(api)
        with _socket(base_url, compression=None) as plain, \
                _socket(base_url, compression="deflate") as deflated:  # uvicorn accepts it: ASGI path per message
            _init(plain, secret)
            _init(deflated, secret)
            # Once acknowledged, uvicorn's protocol no longer holds the handshake's request and response.
            sockets = [c for c in state["server"].server_state.connections if isinstance(c, WebSocketsSansIOProtocol)]
            assert len(sockets) == 2
            wait_until(lambda: all(c.request is None and c.response is None for c in sockets), what="handshake gone")
            # Ids that JSON must escape, a short frame (< 126 bytes) and a long one, both sockets.
            for ws in (plain, deflated):
                ws.send(json.dumps({"id": 'k"1', "type": "subscribe",
                                    "payload": {"query": ORDER_EVENTS, "variables": {"channels": [channel]}}}))
                ws.send(json.dumps({"id": "c\u00e9", "type": "subscribe",
                                    "payload": {"query": CURSOR_ONLY, "variables": {"channels": [channel]}}}))
            live = state["live"]
            wait_until(lambda: followers(live, channel) == 4, what="4 feeds")
            group = feed_groups(live).groups[channel]
            wait_until(lambda: all(m.direct for m in group.members), what="direct delivery")
            raw = sorted(m.deliver.raw is not None for m in group.members)  # type: ignore[union-attr]
            assert raw == [False, False, True, True]  # the deflated socket's two keep the ASGI path
            key, _ = open_with_lines(api, channel)
            ref = commit(api, channel, key)["result"]["orderRef"]
            ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": "confirmed"}})
            received = {name: [_next(ws), _next(ws), _next(ws), _next(ws)]
                        for name, ws in (("plain", plain), ("deflated", deflated))}
            for messages in received.values():
                by_id: dict[str, list[dict[str, Any]]] = {}
                for message in messages:
                    assert message["type"] == "next" and "errors" not in message["payload"], message
                    by_id.setdefault(message["id"], []).append(message["payload"]["data"]["orderEvents"])
                assert sorted(by_id) == ['c\u00e9', 'k"1']
                assert [e["order"]["status"] for e in by_id['k"1']] == ["new", "confirmed"]
                assert [e["cursor"] for e in by_id["c\u00e9"]] == [e["cursor"] for e in by_id['k"1']]
            def per_operation(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return sorted(messages, key=lambda m: (m["id"], m["payload"]["data"]["orderEvents"]["cursor"]))

            assert per_operation(received["plain"]) == per_operation(received["deflated"])
            assert group.delivered == 8  # every message from the group's task; 4 of them written raw
            # `complete` still ends a raw-fed subscription at once, the other one goes on.
            plain.send(json.dumps({"id": 'k"1', "type": "complete"}))
            wait_until(lambda: followers(live, channel) == 3, what="one feed left")
            ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": "processing"}})
            last = _next(plain)
            assert last["id"] == "c\u00e9"


def test_subscriptions_sending_one_text_keep_one_string() -> None:
    first = "".join(["subscription { orderEvents ", "{ cursor } }"])  # equal texts, distinct objects
    second = "".join(["subscription { orderEvents { cursor ", "} }"])
    assert first == second and first is not second
    assert shared_text(first) is shared_text(second) is first
    for index in range(TEXTS_MAX):  # only the most recent texts are remembered
        shared_text(f"query {{ q{index} }}")
    assert shared_text(second) is second

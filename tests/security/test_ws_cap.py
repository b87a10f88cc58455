"""Open websockets per token are capped (`max_websockets_per_token`, default 50) in each web process: one more is
closed with 4429 before it is acknowledged, other tokens are unaffected, and closing a socket frees its slot."""

from __future__ import annotations

import json
import time
from contextlib import AsyncExitStack

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings
from tests.graphql import init_payload, new_token

pytestmark = pytest.mark.anyio
PROTOCOLS = ["graphql-transport-ws"]


async def _open(stack: AsyncExitStack, url: str, secret: str) -> tuple[ClientConnection, dict[str, object]]:
    """A socket that sent `connection_init` with `secret`: (the socket, the first message or close it got)."""
    ws = await stack.enter_async_context(connect(url, subprotocols=PROTOCOLS, compression=None))  # type: ignore[arg-type]
    await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(secret)}))
    try:
        return ws, json.loads(await ws.recv())
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return ws, {"closed": closed.rcvd.code, "reason": closed.rcvd.reason}


async def _acked(stack: AsyncExitStack, url: str, secret: str) -> ClientConnection:
    ws, first = await _open(stack, url, secret)
    assert first == {"type": "connection_ack"}, first
    return ws


async def test_the_51st_socket_of_a_token_is_refused_4429_until_one_closes(
    settings: Settings, live_server: str
) -> None:
    assert Settings().max_websockets_per_token == 50
    hub = Hub.create(settings)
    try:
        busy, other = await new_token(hub, name="busy-display"), await new_token(hub, name="other-display")
    finally:
        await hub.dispose()
    url = live_server.replace("http://", "ws://") + "/graphql"
    async with AsyncExitStack() as stack:
        sockets = [await _acked(stack, url, busy) for _ in range(50)]

        _, refused = await _open(stack, url, busy)
        await _acked(stack, url, other)  # another token is not affected

        # Closing one frees its slot once the server has seen the close: until then a new socket may still be
        # refused, so try until one is acknowledged (each try is refused or acked, nothing in between).
        await sockets[0].close()
        deadline, attempts = time.monotonic() + 10, 0
        while True:
            attempts += 1
            _, first = await _open(stack, url, busy)
            if first == {"type": "connection_ack"} or time.monotonic() > deadline:
                break
        _, again = await _open(stack, url, busy)  # that freed slot is taken again: the cap still holds

    assert refused == {"closed": 4429,
                       "reason": "Too many open websockets for this token (at most 50); close one first."}
    assert first == {"type": "connection_ack"}, f"still refused after closing a socket ({attempts} tries): {first}"
    assert again == refused

"""Accelerator for uvicorn: a `next` frame written straight to the socket's transport.

It skips the per-message ASGI path and reaches into uvicorn's websockets-sansio protocol (its transport, state and
flow control): used only on the uvicorn series it was tested with (pinned in pyproject.toml) and only when
`Settings.accelerate`; otherwise, and on any other server or protocol, every frame goes through Starlette's
`send_text`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketState

TRANSPORT_SEND = "omniman.transport_send"  # scope key: the server's own websocket `send` (see KeepTransportSend)


class KeepTransportSend:
    """ASGI middleware: keeps the server's own `send` of a websocket in its scope, before Starlette wraps it, so a
    tail can write a ready frame to the socket's transport (`RawFrames`). Other scopes pass untouched. Installed
    only when accelerating (`schema.asgi`): without it `RawFrames.of` finds nothing and answers None."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[TRANSPORT_SEND] = send
        await self.app(scope, receive, send)


try:  # uvicorn's default websocket protocol (websockets' sans-I/O core): the one whose state `RawFrames` reads
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.protocol import State as _WsState
except ImportError:  # pragma: no cover - another server: frames always go through ASGI
    WebSocketsSansIOProtocol = None


def uvicorn_protocol(websocket: Any) -> Any:
    """The uvicorn websockets-sansio protocol serving a Starlette websocket, or None (another server or protocol)."""
    scope = getattr(websocket, "scope", None)
    protocol = getattr((scope or {}).get(TRANSPORT_SEND), "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    return protocol


def _frame_header(length: int) -> bytes:
    """RFC 6455 header of one unmasked, final text frame of `length` payload bytes (a server never masks)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return bytes((0x81, 126)) + length.to_bytes(2, "big")
    return bytes((0x81, 127)) + length.to_bytes(8, "big")


class RawFrames:
    """Writes a `next` frame straight to one socket's transport, skipping Starlette's and uvicorn's per-message
    ASGI path (Starlette's state checks, uvicorn's send, websockets' framing of each message): the frame is
    the same bytes that path would write (no extension can be in use: checked first). Only while that path would
    write at once: the socket open on both sides, nothing closing, the transport not paused for a slow reader;
    otherwise `write` answers False and the caller takes the ASGI path, which waits or fails as it always did."""

    __slots__ = ("head", "protocol", "websocket")

    def __init__(self, websocket: Any, protocol: Any, operation_id: str) -> None:
        self.websocket = websocket  # Starlette's WebSocket: its state must say CONNECTED too
        self.protocol = protocol
        self.head = b'{"id":' + json.dumps(operation_id).encode()

    @classmethod
    def of(cls, websocket: Any, operation_id: str) -> RawFrames | None:
        """For a Starlette websocket served by uvicorn's websockets-sansio protocol without extensions, else None."""
        protocol = uvicorn_protocol(websocket)
        if protocol is None:
            return None
        if getattr(protocol.conn, "extensions", None):
            return None  # permessage-deflate: frames are compressed per message
        return cls(websocket, protocol, operation_id)

    def write(self, tail: bytes) -> bool:
        """Write the frame `head + tail` (see `MessageEncoder.next_tail`) if the ASGI path would write it at once."""
        protocol = self.protocol
        if (self.websocket.application_state is not WebSocketState.CONNECTED or protocol.disconnected
                or protocol.close_sent or not protocol.writable.is_set() or protocol.conn.state is not _WsState.OPEN
                or protocol.transport.is_closing()):
            return False
        body = self.head + tail
        protocol.transport.write(_frame_header(len(body)) + body)
        return True



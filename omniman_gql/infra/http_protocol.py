"""uvicorn's httptools HTTP/1.1 protocol with a response's status line and headers sent with its first body bytes."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# uvicorn writes this itself, from `receive`, when a client sent `Expect: 100-continue`: the client waits for it
# before sending its body, so it must go out at once.
_CONTINUE = b"HTTP/1.1 100 "


class _HeldHeaders:
    """The transport as one connection's request cycles see it: the write of a response's status line and headers
    is held until the next write (the body, or its first chunk) and both go out in one `send()`, instead of two
    syscalls and, on loopback, two wake-ups of the client. Whatever else the cycle does flushes what is held first.
    The bytes on the wire are the same."""

    __slots__ = ("_transport", "_held")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(b"HTTP/") and not data.startswith(_CONTINUE):
            self._held = data
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def drop(self) -> None:
        self._held = None

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def writelines(self, chunks: Any) -> None:
        self.flush()
        self._transport.writelines(chunks)

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, … as the transport answers them
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """`uvicorn.run(…, http=CoalescingHttpToolsProtocol)`: every request cycle writes through `_HeldHeaders`; a
    response that ends without body bytes (HEAD, an empty body) is flushed when uvicorn marks it complete."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._held_headers = _HeldHeaders(transport)

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:  # a new request cycle (not a websocket upgrade): its task has not run yet
            self.cycle.transport = self._held_headers  # type: ignore[assignment]

    def on_response_complete(self) -> None:
        self._held_headers.flush()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._held_headers.drop()
        super().connection_lost(exc)

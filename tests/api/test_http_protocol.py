"""The HTTP protocol `omniman serve` runs: responses byte for byte as uvicorn's own httptools protocol sends them,
headers and body written together, and nothing held that a client waits for."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from omniman_gql.infra.http_protocol import CoalescingHttpToolsProtocol
from tests.fixtures.app import free_port

RELEASE = asyncio.Event()  # set by a request to /release: a streamed response's second chunk waits for it


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A few kinds of response: JSON (echoing the request body), empty 204, HEAD, and a chunked stream."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        await RELEASE.wait()
        await send({"type": "http.response.body", "body": b"second"})
    elif path == "/release":
        RELEASE.set()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
    else:
        reply = b'{"echo":%d}' % len(body)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(reply))]})
        await send({"type": "http.response.body", "body": reply})


def _serve(protocol: type) -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=protocol))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{protocol.__name__}", daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture
def ours() -> Iterator[int]:
    yield from _serve(CoalescingHttpToolsProtocol)


@pytest.fixture
def stock() -> Iterator[int]:
    yield from _serve(HttpToolsProtocol)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(10)  # a response that never comes fails the test instead of hanging it
    return sock


def _read_until(sock: socket.socket, end: bytes, buffer: bytes = b"") -> bytes:
    while end not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {end!r}: {buffer!r}"
        buffer += chunk
    return buffer


REQUESTS = [
    (b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
     b'{"echo":7}'),
    (b"HEAD /graphql HTTP/1.1\r\nHost: x\r\n\r\n", b"content-length: 10\r\n\r\n"),
    (b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n", b"204 No Content\r\n"),
    (b"GET /graphql HTTP/1.1\r\nHost: x\r\n\r\n", b'{"echo":0}'),
]


def _exchange(port: int) -> list[bytes]:
    """The requests above on ONE keep-alive connection, each answered before the next is sent."""
    answers = []
    with _connect(port) as sock:
        for request, end in REQUESTS:
            sock.sendall(request)
            answer = _read_until(sock, end)
            if end.endswith(b"\r\n") and b"204" in end:  # 204: the headers end the response
                answer = _read_until(sock, b"\r\n\r\n", answer)
            answers.append(re.sub(rb"date: [^\r]*\r\n", b"", answer))
    return answers


def test_the_same_bytes_as_uvicorns_own_protocol(ours: int, stock: int) -> None:
    assert _exchange(ours) == _exchange(stock)


def test_pipelined_requests_are_all_answered_in_order(ours: int) -> None:
    with _connect(ours) as sock:
        sock.sendall(REQUESTS[0][0] + REQUESTS[3][0] + REQUESTS[0][0])
        answer = b""
        while len(re.findall(rb'\{"echo":\d+\}', answer)) < 3:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    assert re.findall(rb'\{"echo":\d+\}', answer) == [b'{"echo":7}', b'{"echo":0}', b'{"echo":7}']
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 3


def test_a_streamed_response_has_its_headers_and_first_chunk_before_it_ends(ours: int) -> None:
    RELEASE.clear()
    with _connect(ours) as sock, _connect(ours) as other:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        first = _read_until(sock, b"first;")
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and b"transfer-encoding: chunked" in first
        other.sendall(b"GET /release HTTP/1.1\r\nHost: x\r\n\r\n")
        _read_until(other, b"\r\n\r\n")
        assert b"second" in _read_until(sock, b"0\r\n\r\n", first)


def test_100_continue_is_sent_before_the_body_is(ours: int) -> None:
    with _connect(ours) as sock:
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        assert _read_until(sock, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert _read_until(sock, b'{"echo":3}').startswith(b"HTTP/1.1 200 OK\r\n")

"""The stream bench's displays: websocket clients of `orderEvents` (lean hand-framed RFC 6455 on uvloop, or the
`websockets` library), grouped per process, and the parent's handle on a worker process's displays."""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import time
import zlib
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import websockets

KITCHEN = """subscription($channels: [String!]) {
  orderEvents(channelCodes: $channels) {
    cursor type
    event { id type createdAt payload }
    order { ref status totalQ itemsCount createdAt handleRef
            channel { code name }
            items { lineId sku name qty unitPriceQ lineTotalQ meta } } } }"""
MINIMAL = """subscription($channels: [String!]) {
  orderEvents(channelCodes: $channels) { cursor event { id createdAt } } }"""


class Subscriber:
    """One display on the `websockets` library: a websocket with one subscription, recording the latency of each
    message after parsing it (`--client websockets`: the client as it was; ≈ 100 µs of client CPU per message)."""

    def __init__(self, index: int, ws: Any, latencies: list[float], errors: Counter[str]) -> None:
        self.index = index
        self.ws = ws
        self.latencies = latencies
        self.errors = errors
        self.received: set[str] = set()
        self.task: asyncio.Task[None] | None = None

    def count(self) -> int:
        return len(self.received)

    def reset(self) -> None:
        self.received.clear()

    def settle(self) -> None:
        """Nothing to do: each message was parsed on arrival."""

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                arrived = time.time()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    payload = message["payload"]
                    if payload.get("errors"):
                        self.errors[f"next:{payload['errors'][0].get('message', '')[:60]}"] += 1
                        continue
                    event = payload["data"]["orderEvents"]["event"]
                    created = dt.datetime.fromisoformat(event["createdAt"]).timestamp()
                    self.latencies.append(arrived - created)
                    self.received.add(event["id"])
                elif kind == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                elif kind in ("error", "complete"):
                    self.errors[f"{kind}:{json.dumps(message.get('payload'))[:60]}"] += 1
        except websockets.ConnectionClosed as exc:
            self.errors[f"closed:{exc.rcvd.code if exc.rcvd else 'none'}"] += 1

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        await self.ws.close()


async def connect(index: int, ws_url: str, args: argparse.Namespace, channel: str, latencies: list[float],
                  errors: Counter[str]) -> Any:
    if args.client == "lean":
        return await LeanDisplay.open(ws_url, args, channel, latencies, errors)
    ws = await websockets.connect(ws_url, subprotocols=["graphql-transport-ws"],
                                  compression=None if args.compression == "none" else "deflate",
                                  max_size=2**22, open_timeout=60, ping_interval=None)
    init_payload = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": init_payload}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    await ws.send(json.dumps(subscribe_message(args, channel)))
    sub = Subscriber(index, ws, latencies, errors)
    sub.task = asyncio.create_task(sub.read())
    return sub


def subscribe_message(args: argparse.Namespace, channel: str) -> dict[str, Any]:
    query = MINIMAL if args.selection == "minimal" else KITCHEN
    return {"id": "kds", "type": "subscribe", "payload": {"query": query, "variables": {"channels": [channel]}}}


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame (RFC 6455: a client masks every frame)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = bytes((0x80 | opcode, 0x80 | length))
    elif length < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    repeated = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
    return head + mask + masked


class LeanDisplay(asyncio.Protocol):
    """One display written lean on purpose (`--client lean`, the default): the websocket handshake and RFC 6455
    framing by hand on an asyncio protocol, graphql-transport-ws on top (connection_init with the token, one
    `subscribe` with the display's selection, `pong` to a `ping`), permessage-deflate offered as browsers do and
    inflated when the server accepts it. A message's arrival time is taken when the bytes completing its frame
    arrive; `next` frames are kept as bytes and parsed after the level's events (`settle`): latency from the
    event's `createdAt`, errors, and which event ids arrived (lost = expected minus distinct ids). The
    `websockets` library spends ≈ 100 µs of client CPU per message on the cores the server shares."""

    def __init__(self, host: str, path: str, latencies: list[float], errors: Counter[str]) -> None:
        self.host = host
        self.path = path
        self.latencies = latencies
        self.errors = errors
        self.key = base64.b64encode(os.urandom(16))
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.first: asyncio.Future[bytes] | None = None  # the next text message, while connecting
        self.inflater: Any = None  # permessage-deflate accepted: a zlib decompressor (None per message: no takeover)
        self.deflate = False
        self.fragments: list[bytes] = []
        self.fragment_rsv1 = False
        self.raw: list[tuple[float, bytes]] = []  # (arrival, `next` frame) since the last reset
        self.received: set[str] = set()
        self.closed = False

    @classmethod
    async def open(cls, ws_url: str, args: argparse.Namespace, channel: str, latencies: list[float],
                   errors: Counter[str]) -> LeanDisplay:
        parts = urlsplit(ws_url)
        loop = asyncio.get_running_loop()
        display = cls(parts.netloc, parts.path or "/", latencies, errors)
        async with asyncio.timeout(60):
            await loop.create_connection(lambda: display, parts.hostname, parts.port or 80)
            extensions = "" if args.compression == "none" else \
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            assert display.transport is not None
            display.transport.write((
                f"GET {display.path} HTTP/1.1\r\nHost: {display.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {display.key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: graphql-transport-ws\r\n{extensions}\r\n").encode())
            await display.handshake
            init_payload = {"Authorization": f"Bearer {args.token}"} if args.token else {}
            ack = json.loads(await display.request({"type": "connection_init", "payload": init_payload}))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {ack}")
            display.send(subscribe_message(args, channel))
        return display

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.write(client_frame(0x1, json.dumps(message).encode()))

    async def request(self, message: dict[str, Any]) -> bytes:
        self.first = asyncio.get_running_loop().create_future()
        self.send(message)
        return await self.first

    def data_received(self, data: bytes) -> None:
        arrived = time.time()  # the bytes completing any frame in `data` are here now
        if self.buffer:
            self.buffer += data
            data = bytes(self.buffer)
            self.buffer.clear()
        if not self.handshake.done():
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buffer += data
                return
            head, data = data[:end].decode("latin-1"), data[end + 4:]
            try:
                self._accept(head)
            except Exception as exc:  # noqa: BLE001 - the connect fails with it
                self.handshake.set_exception(exc)
                return
            self.handshake.set_result(None)
        at, size = 0, len(data)
        while size - at >= 2:
            b0, b1 = data[at], data[at + 1]
            length, start = b1 & 0x7F, at + 2
            if length == 126:
                if size - at < 4:
                    break
                length, start = int.from_bytes(data[at + 2:at + 4], "big"), at + 4
            elif length == 127:
                if size - at < 10:
                    break
                length, start = int.from_bytes(data[at + 2:at + 10], "big"), at + 10
            if b1 & 0x80:
                self._fail("masked frame from the server")
                return
            if size < start + length:
                break
            at = start + length
            self._frame(b0, data[start:at], arrived)
        if at < size:
            self.buffer += data[at:]  # a frame not complete yet: its arrival is when its last bytes come

    def _accept(self, head: str) -> None:
        lines = head.split("\r\n")
        if lines[0].split(" ", 2)[1:2] != ["101"]:
            raise RuntimeError(f"handshake refused: {lines[0]}")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()
        if fields.get("sec-websocket-accept") != expected:
            raise RuntimeError("bad Sec-WebSocket-Accept")
        if fields.get("sec-websocket-protocol") != "graphql-transport-ws":
            raise RuntimeError("graphql-transport-ws not accepted")
        extension = fields.get("sec-websocket-extensions", "")
        if extension:
            params = [p.strip() for p in extension.split(";")]
            if params[0] != "permessage-deflate":
                raise RuntimeError(f"unexpected extension {extension}")
            self.deflate = True
            self.inflater = None if "server_no_context_takeover" in params else zlib.decompressobj(-15)

    def _frame(self, b0: int, payload: bytes, arrived: float) -> None:
        opcode = b0 & 0x0F
        if opcode == 0x9:  # ping: answer at once
            assert self.transport is not None
            self.transport.write(client_frame(0xA, payload))
            return
        if opcode == 0xA:
            return
        if opcode == 0x8:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else "none"
            self.errors[f"closed:{code}"] += 1
            self._fail(f"closed {code}")
            return
        if opcode in (0x1, 0x2):
            self.fragments, self.fragment_rsv1 = [payload], bool(b0 & 0x40)
        elif opcode == 0x0:
            self.fragments.append(payload)
        if not b0 & 0x80:
            return
        message = b"".join(self.fragments) if len(self.fragments) > 1 else self.fragments[0]
        self.fragments = []
        if self.fragment_rsv1:
            inflater = self.inflater or zlib.decompressobj(-15)
            message = inflater.decompress(message + b"\x00\x00\xff\xff")
        if self.first is not None:
            self.first.set_result(message)
            self.first = None
            return
        if b'"next"' in message[:64]:
            self.raw.append((arrived, message))  # parsed after the events, off the measured path
            return
        parsed = json.loads(message)
        kind = parsed.get("type")
        if kind == "ping":
            self.send({"type": "pong"})
        elif kind in ("error", "complete"):
            self.errors[f"{kind}:{json.dumps(parsed.get('payload'))[:60]}"] += 1

    def _fail(self, reason: str) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(RuntimeError(reason))
        if self.first is not None and not self.first.done():
            self.first.set_exception(RuntimeError(reason))
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self._fail("connection lost")
            self.errors["closed:none"] += 1

    def count(self) -> int:
        return len(self.raw) + len(self.received)

    def reset(self) -> None:
        self.settle()
        self.received.clear()

    def settle(self) -> None:
        """Parse the `next` frames kept since the last call: latencies, errors and the event ids received."""
        raw, self.raw = self.raw, []
        for arrived, frame in raw:
            payload = json.loads(frame)["payload"]
            if payload.get("errors"):
                self.errors[f"next:{payload['errors'][0].get('message', '')[:60]}"] += 1
                continue
            event = payload["data"]["orderEvents"]["event"]
            self.latencies.append(arrived - dt.datetime.fromisoformat(event["createdAt"]).timestamp())
            self.received.add(event["id"])

    async def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.write(client_frame(0x8, (1000).to_bytes(2, "big")))
            self.transport.close()


class Displays:
    """Some of a level's displays, in one process: connect them, see whether each got an event, reset, report."""

    def __init__(self, args: argparse.Namespace, channel: str) -> None:
        self.args = args
        self.channel = channel
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.subscribers: list[Subscriber] = []
        self.cpu_from = time.process_time()

    async def connect(self, first: int, count: int) -> None:
        ws_url = self.args.url.replace("http://", "ws://").replace("https://", "wss://")
        # In small waves: a storm of simultaneous connection_inits (each authenticates) would grow the server's
        # database pool, and that one-off growth would be counted as memory per subscription.
        wave = self.args.connect_concurrency
        for start in range(first, first + count, wave):
            self.subscribers += await asyncio.gather(*(
                connect(i, ws_url, self.args, self.channel, self.latencies, self.errors)
                for i in range(start, min(first + count, start + wave))))

    def waiting(self) -> int:
        """Displays that have not received an event since the last reset."""
        return sum(not sub.count() for sub in self.subscribers)

    def received(self) -> list[int]:
        return [sub.count() for sub in self.subscribers]

    def reset(self) -> None:
        for sub in self.subscribers:
            sub.reset()
        self.latencies.clear()
        self.cpu_from = time.process_time()

    def report(self) -> dict[str, Any]:
        cpu_s = time.process_time() - self.cpu_from  # the live window: the lean client parses after it
        for sub in self.subscribers:
            sub.settle()
        return {"latencies": list(self.latencies), "received": [len(sub.received) for sub in self.subscribers],
                "errors": dict(self.errors), "cpu_s": cpu_s,
                "settle_cpu_s": time.process_time() - self.cpu_from - cpu_s}

    async def close(self) -> None:
        await asyncio.gather(*(sub.close() for sub in self.subscribers), return_exceptions=True)

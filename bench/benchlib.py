"""Helpers shared by the bench scripts: GraphQL over HTTP, error classification, percentiles, set-up, /proc."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

DEFAULT_URL = "http://127.0.0.1:8000/graphql"

UPSERT_CHANNEL = """mutation($input: ChannelInput!) {
  upsertChannel(input: $input) { channel { code } errors { code message } } }"""
SET_PRICES = """mutation($input: [PriceInput!]!) {
  setPrices(input: $input) { prices { sku } errors { code message } } }"""
OPEN_SESSION = """mutation($input: OpenSessionInput!) {
  openSession(input: $input) { session { sessionKey rev } errors { code message } } }"""
MODIFY_SESSION = """mutation($input: ModifySessionInput!) {
  modifySession(input: $input) { session { rev totalQ itemsCount } errors { code message } } }"""
COMMIT_SESSION = """mutation($input: CommitSessionInput!) {
  commitSession(input: $input) { result { orderRef status } replayed errors { code message } } }"""

SKUS = {"BENCH-COFFEE": 550, "BENCH-CAKE": 1290}


class GraphQLFailure(Exception):
    """A failed operation, with the kind it is counted under (e.g. `payload:stale_rev`, `http:503`)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def classify_top_level(errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    code = (first.get("extensions") or {}).get("code")
    message = str(first.get("message", ""))
    if "database is locked" in message:
        return "top:database_is_locked"
    return f"top:{code}" if code else f"top:{message[:60]}"


async def gql(client: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any], field: str) -> Any:
    """POST one operation; return `data[field]`. Any top-level error, payload error or non-200 raises."""
    try:
        response = await client.post(url, json={"query": query, "variables": variables})
    except httpx.HTTPError as exc:
        raise GraphQLFailure(f"transport:{type(exc).__name__}", str(exc)) from None
    return payload_of(response.status_code, response.content, field)


def payload_of(status: int, content: bytes, field: str) -> Any:
    """`data[field]` of a GraphQL response, or GraphQLFailure naming what went wrong."""
    if status != 200:
        raise GraphQLFailure(f"http:{status}", content[:200].decode(errors="replace"))
    body = json.loads(content)
    if body.get("errors"):
        raise GraphQLFailure(classify_top_level(body["errors"]), json.dumps(body["errors"])[:300])
    payload = (body.get("data") or {}).get(field)
    if payload is None:
        raise GraphQLFailure("top:null_data", json.dumps(body)[:200])
    if isinstance(payload, dict) and payload.get("errors"):
        error = payload["errors"][0]
        raise GraphQLFailure(f"payload:{error.get('code')}", str(error.get("message")))
    return payload


class KeepAliveConnection:
    """One HTTP/1.1 keep-alive connection that POSTs JSON, written lean on purpose: httpx spends about 1 ms of CPU
    per request, and a load generator sharing the server's cores steals that from the server it measures.
    It speaks only what the hub answers with (a `Content-Length` body); anything else is a transport error."""

    def __init__(self, url: str, token: str | None, timeout: float) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.head = (f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     f"Content-Type: application/json\r\n{auth}Content-Length: ").encode()
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: dict[str, Any]) -> tuple[int, bytes]:
        data = json.dumps(body).encode()
        try:
            async with asyncio.timeout(self.timeout):
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                assert self.reader is not None
                self.writer.write(b"%s%d\r\n\r\n%s" % (self.head, len(data), data))
                head = await self.reader.readuntil(b"\r\n\r\n")
                status, length, closing = self._parse_head(head)
                content = await self.reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
            self.close()
            raise GraphQLFailure(f"transport:{type(exc).__name__}", str(exc)) from None
        if closing:
            self.close()
        return status, content

    @staticmethod
    def _parse_head(head: bytes) -> tuple[int, int, bool]:
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, closing = None, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                closing = True
            elif name == b"transfer-encoding":
                raise ValueError("chunked responses are not expected from the hub")
        if length is None:
            raise ValueError("response without Content-Length")
        return status, length, closing

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def gql_lean(connection: KeepAliveConnection, query: str, variables: dict[str, Any], field: str) -> Any:
    """`gql` over a KeepAliveConnection."""
    status, content = await connection.post({"query": query, "variables": variables})
    return payload_of(status, content, field)


async def setup_channel(client: httpx.AsyncClient, url: str, code: str, *, config: dict[str, Any] | None = None,
                        prices: bool = True) -> None:
    """Create (or update) the bench channel, priced by the hub from a small price table."""
    channel = {"code": code, "name": f"bench {code}", "config": config or {}}
    await gql(client, url, UPSERT_CHANNEL, {"input": channel}, "upsertChannel")
    if prices:
        await gql(client, url, SET_PRICES, {"input": [{"sku": s, "unitPriceQ": p, "name": s.title()}
                                                      for s, p in SKUS.items()]}, "setPrices")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def percentiles(samples_s: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99 (nearest rank) in milliseconds."""
    if not samples_s:
        return {"p50": None, "p95": None, "p99": None, "n": 0}  # type: ignore[dict-item]
    ordered = sorted(samples_s)

    def rank(p: float) -> float:
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return round(ordered[index] * 1000, 2)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "n": len(ordered)}  # type: ignore[dict-item]


def machine() -> dict[str, Any]:
    """What the numbers were measured on: cores and the load average when the run ended."""
    return {"host": platform.node(), "cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (KiB)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def process_tree(pid: int) -> list[int]:
    """The pid and its descendants (uvicorn --workers and dramatiq fork worker processes)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as children:
                todo.extend(int(c) for c in children.read().split())
        except OSError:
            pass
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of processes and their descendants (from /proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in {p for root in pids for p in process_tree(root)}:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def machine_cpu_seconds() -> dict[str, float]:
    """CPU seconds the whole machine spent since boot, all cores together, from /proc/stat: `busy` (user, nice,
    system, irq, softirq) and `steal` (time the hypervisor gave another guest: a noisy host shows here)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return {"busy": (user + nice + system + irq + softirq) / ticks, "steal": steal / ticks}


def pids_named(*names: str) -> list[int]:
    """Processes whose command name is one of `names` (e.g. every PostgreSQL backend: `postgres`)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() in names:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def error_counts(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items()))

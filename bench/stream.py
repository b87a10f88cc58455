"""Live stream: commit → kitchen display latency with N `orderEvents` subscribers, and server memory per subscription.

    python bench/stream.py --url http://127.0.0.1:8000/graphql --subscribers 1,100,1000 --rate 5 --events 40 \\
        --server-pid PID [--token TOKEN]

For each N: open N websockets (graphql-transport-ws, offering permessage-deflate as browsers do), each with one
`orderEvents` subscription on a fresh channel with a kitchen display's selection (order, lines, channel); wait until
every subscriber has received a warm-up event; read the server's RSS (before the sockets were opened and now, idle);
then commit orders at a steady `--rate` over HTTP and record, for every message every subscriber receives, the time
from the event's `createdAt` (taken by the server inside the committing transaction) to its arrival. Prints ONE JSON
line with p50/p95/p99/max per N, messages lost, errors, and KiB of server memory per open subscription.

The subscribers run in this process: on a small machine the client's own work (parsing 1,000 messages per event)
is part of the figure; `client_cpu_ms_per_event` says how much.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import time
from collections import Counter
from typing import Any

import httpx
import websockets

from benchlib import (COMMIT_SESSION, DEFAULT_URL, MODIFY_SESSION, OPEN_SESSION, SKUS, GraphQLFailure, cpu_seconds,
                      gql, headers, machine, percentiles, rss_kib, setup_channel, unique)

KITCHEN = """subscription($channels: [String!]) {
  orderEvents(channelCodes: $channels) {
    cursor type
    event { id type createdAt payload }
    order { ref status totalQ itemsCount createdAt handleRef
            channel { code name }
            items { lineId sku name qty unitPriceQ lineTotalQ meta } } } }"""
MINIMAL = """subscription($channels: [String!]) { orderEvents(channelCodes: $channels) { cursor event { id createdAt } } }"""


class Subscriber:
    """One display: a websocket with one subscription, recording the latency of each message."""

    def __init__(self, index: int, ws: Any, latencies: list[float], errors: Counter[str]) -> None:
        self.index = index
        self.ws = ws
        self.latencies = latencies
        self.errors = errors
        self.received: set[str] = set()
        self.task: asyncio.Task[None] | None = None

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


async def connect(index: int, ws_url: str, args: argparse.Namespace, channel: str, latencies: list[float],
                  errors: Counter[str]) -> Subscriber:
    ws = await websockets.connect(ws_url, subprotocols=["graphql-transport-ws"],
                                  compression=None if args.compression == "none" else "deflate",
                                  max_size=2**22, open_timeout=60, ping_interval=None)
    init_payload = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": init_payload}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    query = MINIMAL if args.selection == "minimal" else KITCHEN
    await ws.send(json.dumps({"id": "kds", "type": "subscribe",
                              "payload": {"query": query, "variables": {"channels": [channel]}}}))
    sub = Subscriber(index, ws, latencies, errors)
    sub.task = asyncio.create_task(sub.read())
    return sub


async def place_order(client: httpx.AsyncClient, url: str, channel: str) -> None:
    key = unique("kds")
    await gql(client, url, OPEN_SESSION, {"input": {"channelCode": channel, "sessionKey": key}}, "openSession")
    await gql(client, url, MODIFY_SESSION, {"input": {"channelCode": channel, "sessionKey": key, "ops": [
        {"addLine": {"sku": sku, "qty": "1"}} for sku in SKUS]}}, "modifySession")
    await gql(client, url, COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": key,
                                                      "idempotencyKey": f"k-{key}"}}, "commitSession")


async def run_level(n: int, args: argparse.Namespace, client: httpx.AsyncClient) -> dict[str, Any]:
    channel = unique("kds")
    await setup_channel(client, args.url, channel, prices=False)
    ws_url = args.url.replace("http://", "ws://").replace("https://", "wss://")
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    rss_before = rss_kib(args.server_pid) if args.server_pid else None
    subscribers: list[Subscriber] = []
    # In small waves: a storm of simultaneous connection_inits (each authenticates) would grow the server's database
    # pool, and that one-off growth would be counted as memory per subscription.
    wave = args.connect_concurrency
    for start in range(0, n, wave):
        subscribers += await asyncio.gather(*(connect(i, ws_url, args, channel, latencies, errors)
                                              for i in range(start, min(n, start + wave))))
    try:
        # Warm-up: orders until every subscriber has received one (its subscription is live on the server).
        deadline = time.monotonic() + 60
        while not all(sub.received for sub in subscribers):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{sum(not s.received for s in subscribers)} subscribers never got an event")
            await place_order(client, args.url, channel)
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        rss_idle = rss_kib(args.server_pid) if args.server_pid else None
        latencies.clear()
        for sub in subscribers:
            sub.received.clear()
        cpu_before, proc_before = time.process_time(), (cpu_seconds([args.server_pid]) if args.server_pid else 0.0)
        commit_errors: Counter[str] = Counter()
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        for _ in range(args.events):
            try:
                await place_order(client, args.url, channel)
            except GraphQLFailure as exc:
                commit_errors[exc.kind] += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        expected = args.events - sum(commit_errors.values())
        settle = time.monotonic() + 10
        while any(len(s.received) < expected for s in subscribers) and time.monotonic() < settle:
            await asyncio.sleep(0.05)
        client_cpu = time.process_time() - cpu_before
        server_cpu = (cpu_seconds([args.server_pid]) - proc_before) if args.server_pid else None
        lost = sum(max(0, expected - len(s.received)) for s in subscribers)
    finally:
        for sub in subscribers:
            if sub.task:
                sub.task.cancel()
        await asyncio.gather(*(sub.ws.close() for sub in subscribers), return_exceptions=True)
    per_sub = (round((rss_idle - rss_before) / n, 1)
               if rss_before is not None and rss_idle is not None else None)
    return {
        "subscribers": n, "events": expected, "messages": len(latencies), "lost": lost,
        "latency_ms": {**percentiles(latencies), "max": round(max(latencies) * 1000, 2) if latencies else None},
        "server_rss_kib": {"before": rss_before, "idle_subscribed": rss_idle}, "server_kib_per_subscription": per_sub,
        "server_cpu_ms_per_event": round(server_cpu * 1000 / expected, 2) if server_cpu is not None and expected
        else None,
        "client_cpu_ms_per_event": round(client_cpu * 1000 / max(1, expected), 2),
        "errors": dict(errors), "commit_errors": dict(commit_errors),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(n) for n in args.subscribers.split(",")]
    results = []
    async with httpx.AsyncClient(timeout=30, headers=headers(args.token)) as client:
        prices = unique("kds-prices")
        await setup_channel(client, args.url, prices)  # the price table is global: set once
        for n in levels:
            results.append(await run_level(n, args, client))
    return {"bench": "stream", "url": args.url, "rate_per_s": args.rate, "selection": args.selection,
            "compression_offered": args.compression,
            "levels": results, "machine": machine()}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint (default {DEFAULT_URL})")
    parser.add_argument("--token", help="API token (sent in connection_init and as `Authorization: Bearer …`)")
    parser.add_argument("--subscribers", default="1,100,1000", help="comma-separated N (default 1,100,1000)")
    parser.add_argument("--rate", type=float, default=5.0, help="orders committed per second (default 5)")
    parser.add_argument("--events", type=int, default=40, help="orders committed per level (default 40)")
    parser.add_argument("--selection", choices=["kitchen", "minimal"], default="kitchen",
                        help="what each display selects (default kitchen: order, lines, channel)")
    parser.add_argument("--connect-concurrency", type=int, default=10,
                        help="websockets opened at a time (default 10)")
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate",
                        help="offer permessage-deflate as browsers do (default), or not")
    parser.add_argument("--server-pid", type=int, help="the server's pid (one process): RSS and CPU from /proc")
    args = parser.parse_args(argv)
    if not 0 < args.rate <= 200 or not 1 <= args.events <= 10_000:
        parser.error("--rate must be in (0, 200] and --events in [1, 10000]")
    if any(not 1 <= int(n) <= 5000 for n in args.subscribers.split(",")):
        parser.error("each --subscribers value must be 1..5000")
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse()))), flush=True)

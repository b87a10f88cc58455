"""Live stream: commit → kitchen display latency with N `orderEvents` subscribers, and server memory per subscription.

    python bench/stream.py --url http://127.0.0.1:8000/graphql --subscribers 1,100,1000 --rate 5 --events 40 \\
        --server-pid PID [--token TOKEN]

For each N: open N websockets (graphql-transport-ws, offering permessage-deflate as browsers do), each with one
`orderEvents` subscription on a fresh channel with a kitchen display's selection (order, lines, channel); wait until
every subscriber has received a warm-up event; read the server's RSS (before the sockets were opened and now, idle);
then commit orders at a steady `--rate` over HTTP and record, for every message every subscriber receives, the time
from the event's `createdAt` (taken by the server inside the committing transaction) to the arrival of the bytes that
complete its frame. Prints ONE JSON line with p50/p95/p99/max per N, messages lost (event ids a display never got),
errors, KiB of server memory per open subscription, and the client's own CPU per event and per message.

The client shares the machine's cores with the server, so its own work per message is part of what a display's
latency measures. The default `--client lean` (`LeanDisplay`) costs ≈ 11 µs of client CPU per message: RFC 6455
framing by hand on uvloop, the arrival stamped when the bytes come, the frames parsed once the level's events are in
(`client_parse_after_cpu_ms_per_event`). `--client websockets` is the `websockets` library parsing each message on
arrival (≈ 50 µs per message, as this bench measured before). `--client-processes K` spreads the displays over K
worker processes (each opens N/K sockets and records its own latencies; they are merged).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from collections import Counter
from typing import Any

import httpx
import uvloop
from benchlib import (
    COMMIT_SESSION,
    DEFAULT_URL,
    MODIFY_SESSION,
    OPEN_SESSION,
    SKUS,
    GraphQLFailure,
    KeepAliveConnection,
    cpu_seconds,
    gql_lean,
    headers,
    machine,
    percentiles,
    rss_kib,
    setup_channel,
    unique,
)
from stream_displays import Displays


async def place_order(connection: KeepAliveConnection, channel: str) -> None:
    """Open, fill and commit one order (on the lean HTTP client: httpx costs ≈ 1 ms of client CPU per request)."""
    key = unique("kds")
    await gql_lean(connection, OPEN_SESSION, {"input": {"channelCode": channel, "sessionKey": key}}, "openSession")
    await gql_lean(connection, MODIFY_SESSION, {"input": {"channelCode": channel, "sessionKey": key, "ops": [
        {"addLine": {"sku": sku, "qty": "1"}} for sku in SKUS]}}, "modifySession")
    await gql_lean(connection, COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": key,
                                                          "idempotencyKey": f"k-{key}"}}, "commitSession")


def _worker(conn: Any, args: argparse.Namespace, channel: str, first: int, count: int) -> None:
    """A client process: `count` displays, answering the parent's commands until told to close."""

    async def serve() -> None:
        displays = Displays(args, channel)
        await displays.connect(first, count)
        conn.send("ready")
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)  # the displays keep reading meanwhile
            if command == "close":
                await displays.close()
                conn.send("closed")
                return
            answers = {"waiting": displays.waiting, "received": displays.received, "reset": displays.reset,
                       "report": displays.report}
            conn.send(answers[command]())

    if args.client == "lean":
        uvloop.install()  # the event loop's own cost per readable socket is most of what a lean display spends
    asyncio.run(serve())


class RemoteDisplays:
    """The parent's handle on a worker process's displays (same methods as `Displays`, over a pipe)."""

    def __init__(self, args: argparse.Namespace, channel: str, first: int, count: int) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process with a running event loop
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, args, channel, first, count), daemon=True)
        self.process.start()

    async def ask(self, command: str) -> Any:
        self.conn.send(command)
        return await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)

    async def ready(self) -> None:
        answer = await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)
        if answer != "ready":
            raise RuntimeError(f"client process: {answer}")

    async def close(self) -> None:
        if self.process.is_alive():
            await self.ask("close")
        self.process.join(10)


async def run_level(n: int, args: argparse.Namespace, client: httpx.AsyncClient,
                    orders: KeepAliveConnection) -> dict[str, Any]:
    channel = unique("kds")
    await setup_channel(client, args.url, channel, prices=False)
    rss_before = rss_kib(args.server_pid) if args.server_pid else None
    processes = max(1, min(args.client_processes, n))
    local: Displays | None = None
    remote: list[RemoteDisplays] = []
    if processes == 1:
        local = Displays(args, channel)
        await local.connect(0, n)
    else:
        shares = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
        starts = [sum(shares[:i]) for i in range(processes)]
        remote = [RemoteDisplays(args, channel, start, share) for start, share in zip(starts, shares, strict=True)]

    async def each(command: str) -> list[Any]:
        if local is not None:
            return [getattr(local, command)()]
        return list(await asyncio.gather(*(r.ask(command) for r in remote)))

    try:
        await asyncio.gather(*(r.ready() for r in remote))
        # The server drops a keep-alive connection idle for a few seconds (uvicorn's timeout_keep_alive), and
        # connecting a level's displays can take longer than that on a loaded machine: a fresh one per level.
        orders.close()
        # Warm-up: orders until every subscriber has received one (its subscription is live on the server).
        deadline = time.monotonic() + 60
        while (waiting := sum(await each("waiting"))) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{waiting} subscribers never got an event")
            await place_order(orders, channel)
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        rss_idle = rss_kib(args.server_pid) if args.server_pid else None
        await each("reset")
        cpu_before, proc_before = time.process_time(), (cpu_seconds([args.server_pid]) if args.server_pid else 0.0)
        commit_errors: Counter[str] = Counter()
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        for _ in range(args.events):
            try:
                await place_order(orders, channel)
            except GraphQLFailure as exc:
                commit_errors[exc.kind] += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        expected = args.events - sum(commit_errors.values())
        settle = time.monotonic() + 10
        while time.monotonic() < settle and any(
                count < expected for counts in await each("received") for count in counts):
            await asyncio.sleep(0.05)
        server_cpu = (cpu_seconds([args.server_pid]) - proc_before) if args.server_pid else None
        client_cpu = time.process_time() - cpu_before  # the live window (the local displays' parsing follows it)
        reports = await each("report")
        client_cpu += sum(r["cpu_s"] for r in reports) if remote else 0.0
        settle_cpu = sum(r["settle_cpu_s"] for r in reports)
    finally:
        if local is not None:
            await local.close()
        await asyncio.gather(*(r.close() for r in remote), return_exceptions=True)
    latencies = [latency for r in reports for latency in r["latencies"]]
    errors: Counter[str] = Counter()
    for r in reports:
        errors.update(r["errors"])
    lost = sum(max(0, expected - count) for r in reports for count in r["received"])
    per_sub = (round((rss_idle - rss_before) / n, 1)
               if rss_before is not None and rss_idle is not None else None)
    return {
        "subscribers": n, "client_processes": processes, "events": expected, "messages": len(latencies),
        "lost": lost,
        "latency_ms": {**percentiles(latencies), "max": round(max(latencies) * 1000, 2) if latencies else None},
        "server_rss_kib": {"before": rss_before, "idle_subscribed": rss_idle}, "server_kib_per_subscription": per_sub,
        "server_cpu_ms_per_event": round(server_cpu * 1000 / expected, 2) if server_cpu is not None and expected
        else None,
        "client": args.client,
        "client_cpu_ms_per_event": round(client_cpu * 1000 / max(1, expected), 2),
        "client_cpu_us_per_message": round(client_cpu * 1e6 / max(1, len(latencies)), 1),
        "client_parse_after_cpu_ms_per_event": round(settle_cpu * 1000 / max(1, expected), 2),
        "errors": dict(errors), "commit_errors": dict(commit_errors),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(n) for n in args.subscribers.split(",")]
    results = []
    async with httpx.AsyncClient(timeout=30, headers=headers(args.token)) as client:
        prices = unique("kds-prices")
        await setup_channel(client, args.url, prices)  # the price table is global: set once
        orders = KeepAliveConnection(args.url, args.token, timeout=30)
        try:
            for n in levels:
                results.append(await run_level(n, args, client, orders))
        finally:
            orders.close()
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
    parser.add_argument("--client", choices=["lean", "websockets"], default="lean",
                        help="lean (default): hand-written websocket framing, arrival stamped on the bytes and frames "
                             "parsed after the events; websockets: the `websockets` library, parsed on arrival")
    parser.add_argument("--client-processes", type=int, default=1,
                        help="spread the displays over this many client processes (default 1: all in this one)")
    args = parser.parse_args(argv)
    if not 1 <= args.client_processes <= 64:
        parser.error("--client-processes must be 1..64")
    if not 0 < args.rate <= 200 or not 1 <= args.events <= 10_000:
        parser.error("--rate must be in (0, 200] and --events in [1, 10000]")
    if any(not 1 <= int(n) <= 5000 for n in args.subscribers.split(",")):
        parser.error("each --subscribers value must be 1..5000")
    return args


if __name__ == "__main__":
    arguments = parse()
    if arguments.client == "lean":
        uvloop.install()
    print(json.dumps(asyncio.run(main(arguments))), flush=True)

"""Checkout throughput: virtual clients doing open → modify (two addLine) → commit against a running hub.

    python bench/checkout.py --url http://127.0.0.1:8000/graphql --concurrency 32 --duration 20 [--token TOKEN]

Each virtual client has its own keep-alive HTTP connection and loops: openSession with a fresh session key,
modifySession adding two lines (priced by the hub), commitSession with a fresh idempotency key. A checkout counts
only when all three succeed; any error (HTTP status, top-level GraphQL error, payload error, transport) ends that
checkout and is counted by kind. Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter

import httpx
from benchlib import (
    COMMIT_SESSION,
    DEFAULT_URL,
    MODIFY_SESSION,
    OPEN_SESSION,
    SKUS,
    GraphQLFailure,
    KeepAliveConnection,
    cpu_seconds,
    error_counts,
    gql_lean,
    headers,
    machine,
    machine_cpu_seconds,
    percentiles,
    pids_named,
    setup_channel,
    unique,
)

MUTATIONS = ("openSession", "modifySession", "commitSession")


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {name: [] for name in (*MUTATIONS, "checkout")}
        self.errors: Counter[str] = Counter()
        self.checkouts = 0
        self.examples: dict[str, str] = {}


async def client_loop(index: int, args: argparse.Namespace, channel: str, stats: Stats, start: float,
                      deadline: float) -> None:
    skus = list(SKUS)
    connection = KeepAliveConnection(args.url, args.token, args.timeout)
    try:
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            key = unique(f"c{index}-{n}")
            measured = time.perf_counter() >= start + args.warmup
            began = time.perf_counter()
            steps = (
                ("openSession", OPEN_SESSION, {"input": {"channelCode": channel, "sessionKey": key}}),
                ("modifySession", MODIFY_SESSION, {"input": {"channelCode": channel, "sessionKey": key, "ops": [
                    {"addLine": {"sku": skus[0], "qty": "2"}}, {"addLine": {"sku": skus[1], "qty": "1"}}]}}),
                ("commitSession", COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": key,
                                                             "idempotencyKey": f"idem-{key}"}}),
            )
            try:
                for name, query, variables in steps:
                    t0 = time.perf_counter()
                    await gql_lean(connection, query, variables, name)
                    if measured:
                        stats.latency[name].append(time.perf_counter() - t0)
            except GraphQLFailure as exc:
                if measured:
                    stats.errors[f"{name}:{exc.kind}"] += 1
                    stats.examples.setdefault(exc.kind, str(exc)[:300])
                continue
            if measured:
                stats.checkouts += 1
                stats.latency["checkout"].append(time.perf_counter() - began)
    finally:
        connection.close()


def cpu_by_part(server_pids: list[int] | None) -> dict[str, float]:
    """CPU seconds so far of each part sharing the machine (this process is the bench client)."""
    parts = {"server": cpu_seconds(server_pids) if server_pids else 0.0, "client": time.process_time(),
             "postgres": cpu_seconds(pids_named("postgres")), "redis": cpu_seconds(pids_named("redis-server"))}
    return {**parts, **{f"machine_{key}": value for key, value in machine_cpu_seconds().items()}}


async def cpu_in_window(server_pids: list[int] | None, begin: float, end: float) -> dict[str, float]:
    """CPU seconds each part used during the measured window; `rest` is the machine's busy time that none of the
    named parts account for (the kernel's interrupts and softirqs, other processes)."""
    await asyncio.sleep(max(0.0, begin - time.perf_counter()))
    before = cpu_by_part(server_pids)
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    after = cpu_by_part(server_pids)
    used = {key: after[key] - before[key] for key in after}
    used["rest"] = used["machine_busy"] - sum(used[key] for key in ("server", "client", "postgres", "redis"))
    return used


def per_checkout_ms(used: dict[str, float], checkouts: int, has_server: bool) -> dict[str, float | None]:
    """The window's CPU of each part divided by the checkouts counted in it (ms)."""
    if not checkouts:
        return {}
    return {key: (round(value * 1000 / checkouts, 2) if key != "server" or has_server else None)
            for key, value in used.items()}


async def main(args: argparse.Namespace) -> dict[str, object]:
    channel = args.channel or unique("bench")
    if not args.no_setup:
        async with httpx.AsyncClient(timeout=args.timeout, headers=headers(args.token)) as client:
            await setup_channel(client, args.url, channel)
    stats = Stats()
    start = time.perf_counter()
    deadline = start + args.warmup + args.duration
    cpu_probe = asyncio.create_task(cpu_in_window(args.server_pid, start + args.warmup, deadline))
    client_cpu = time.process_time()
    await asyncio.gather(*(client_loop(i, args, channel, stats, start, deadline) for i in range(args.concurrency)))
    elapsed = time.perf_counter() - start - args.warmup
    used = await cpu_probe
    client_cpu = time.process_time() - client_cpu
    cpu_ms = per_checkout_ms(used, stats.checkouts, bool(args.server_pid))
    return {
        "bench": "checkout", "url": args.url, "channel": channel, "concurrency": args.concurrency,
        "duration_s": round(elapsed, 2), "checkouts": stats.checkouts,
        "checkouts_per_s": round(stats.checkouts / elapsed, 1),
        "latency_ms": {name: percentiles(samples) for name, samples in stats.latency.items()},
        "server_cpu_ms_per_checkout": cpu_ms.get("server"),
        # this process shares the machine: its CPU (warm-up included) is CPU the server did not get
        "client_cpu_ms_per_checkout": round(client_cpu * 1000 / stats.checkouts, 2) if stats.checkouts else None,
        # where the machine's cores went during the measured window, per checkout: the server, this client, every
        # PostgreSQL backend, Redis, the rest (kernel, other processes) and the busy total; 2 cores give 2,000 ms/s,
        # so checkouts/s can be at most 2,000 / machine_busy
        "cpu_ms_per_checkout": cpu_ms,
        "errors": error_counts(stats.errors), "error_total": sum(stats.errors.values()),
        "error_examples": stats.examples, "machine": machine(),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint (default {DEFAULT_URL})")
    parser.add_argument("--token", help="API token (sent as `Authorization: Bearer …`); needs the admin role to "
                                        "create the bench channel")
    parser.add_argument("--concurrency", "-c", type=int, default=8, help="virtual clients (default 8)")
    parser.add_argument("--duration", "-d", type=float, default=10.0, help="measured seconds (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds run before measuring (default 2)")
    parser.add_argument("--channel", help="channel code to use (default: a new bench-… channel)")
    parser.add_argument("--no-setup", action="store_true", help="use --channel as it is (no upsert, no prices)")
    parser.add_argument("--server-pid", type=int, action="append", help="pid of a server process (repeatable; "
                        "children included) to report its CPU time per checkout, a figure less noisy than rates")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= 1000 or not 0 < args.duration <= 3600:
        parser.error("--concurrency must be 1..1000 and --duration 0..3600")
    return args


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        pass
    else:
        uvloop.install()  # the load generator shares the server's cores: its event loop's cost is theirs too
    print(json.dumps(asyncio.run(main(parse()))), flush=True)

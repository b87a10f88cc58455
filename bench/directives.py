"""Directives: commit → handler done latency at low traffic, and directives/s through one worker.

    python bench/directives.py --url http://127.0.0.1:8000/graphql --token TOKEN [--orders 40 --rate 2]
                               [--burst-orders 40 --per-order 50 --concurrency 4]

Both phases commit orders over HTTP on channels whose `post_commit_directives` are `notification.send` (the console
notifier: a channel read and a log line, the simplest standard handler), then read every directive back through the
API (`order(ref) { directives { … } }`, admin), waiting until each is `done`:

- latency: `--orders` orders at `--rate` per second, one directive each; commit → done is the directive's
  `updatedAt` (set when the handler has finished and the row is marked done) minus its `createdAt` (set inside the
  committing transaction, a moment before COMMIT): both taken by the server's clock.
- throughput: `--burst-orders` orders with `--per-order` directives each, committed as fast as `--concurrency`
  clients can; directives/s = directives / (last `updatedAt` − first `startedAt`). `enqueue_s` says how long the
  commits took: if it is close to the processing time, the worker was keeping up and the figure is a lower bound.

Run against the embedded default (the worker is inside `omniman serve`) or against PostgreSQL + Redis with ONE
`omniman worker --processes 1` running. Prints ONE JSON line.
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
from benchlib import (
    COMMIT_SESSION,
    DEFAULT_URL,
    MODIFY_SESSION,
    OPEN_SESSION,
    SKUS,
    GraphQLFailure,
    cpu_seconds,
    gql,
    headers,
    machine,
    percentiles,
    setup_channel,
    unique,
)

ORDER_DIRECTIVES = """query($ref: String!) {
  order(ref: $ref) { ref directives { id status createdAt startedAt updatedAt attempts lastError } } }"""
TOPIC = "notification.send"


async def commit_order(client: httpx.AsyncClient, url: str, channel: str) -> str:
    key = unique("dir")
    await gql(client, url, OPEN_SESSION, {"input": {"channelCode": channel, "sessionKey": key}}, "openSession")
    await gql(client, url, MODIFY_SESSION, {"input": {"channelCode": channel, "sessionKey": key, "ops": [
        {"addLine": {"sku": next(iter(SKUS)), "qty": "1"}}]}}, "modifySession")
    result = await gql(client, url, COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": key,
                                                               "idempotencyKey": f"k-{key}"}}, "commitSession")
    return str(result["result"]["orderRef"])


def _ts(value: str | None) -> float | None:
    return dt.datetime.fromisoformat(value).timestamp() if value else None


async def wait_done(client: httpx.AsyncClient, url: str, refs: list[str], expected: int,
                    timeout: float) -> list[dict[str, Any]]:
    """Every directive of `refs`, once none is queued or running any more (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        rows: list[dict[str, Any]] = []
        for ref in refs:
            order = await gql(client, url, ORDER_DIRECTIVES, {"ref": ref}, "order")
            rows.extend(order["directives"])
        pending = [r for r in rows if r["status"].lower() in ("queued", "running")]
        if (len(rows) >= expected and not pending) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    statuses = Counter(r["status"].lower() for r in rows)
    done = [r for r in rows if r["status"].lower() == "done"]
    return {"directives": len(rows), "statuses": dict(statuses),
            "errors": Counter(r["lastError"][:80] for r in rows if r["lastError"]).most_common(3), "done": done}


async def latency_phase(client: httpx.AsyncClient, args: argparse.Namespace) -> dict[str, Any]:
    channel = unique("dir-lat")
    await setup_channel(client, args.url, channel, config={"post_commit_directives": [TOPIC]}, prices=False)
    refs, failures = [], Counter[str]()
    interval, next_at = 1.0 / args.rate, time.monotonic()
    for _ in range(args.orders):
        try:
            refs.append(await commit_order(client, args.url, channel))
        except GraphQLFailure as exc:
            failures[exc.kind] += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    summary = summarise(await wait_done(client, args.url, refs, len(refs), args.timeout))
    latencies = [_ts(r["updatedAt"]) - _ts(r["createdAt"]) for r in summary.pop("done")]  # type: ignore[operator]
    return {"orders": len(refs), "rate_per_s": args.rate, **summary, "commit_errors": dict(failures),
            "commit_to_done_ms": {**percentiles(latencies),
                                  "max": round(max(latencies) * 1000, 2) if latencies else None}}


async def throughput_phase(client: httpx.AsyncClient, args: argparse.Namespace) -> dict[str, Any]:
    channel = unique("dir-tp")
    await setup_channel(client, args.url, channel, config={"post_commit_directives": [TOPIC] * args.per_order},
                        prices=False)
    queue = list(range(args.burst_orders))
    refs: list[str] = []
    failures: Counter[str] = Counter()

    async def committer() -> None:
        async with httpx.AsyncClient(timeout=60, headers=headers(args.token)) as own:
            while queue:
                queue.pop()
                try:
                    refs.append(await commit_order(own, args.url, channel))
                except GraphQLFailure as exc:
                    failures[exc.kind] += 1

    started = time.perf_counter()
    worker_cpu = cpu_seconds(args.worker_pid) if args.worker_pid else None
    await asyncio.gather(*(committer() for _ in range(args.concurrency)))
    enqueue_s = time.perf_counter() - started
    summary = summarise(await wait_done(client, args.url, refs, len(refs) * args.per_order, args.timeout))
    if worker_cpu is not None:
        worker_cpu = cpu_seconds(args.worker_pid) - worker_cpu
    done = summary.pop("done")
    first = min((_ts(r["startedAt"]) for r in done if r["startedAt"]), default=None)
    last = max((_ts(r["updatedAt"]) for r in done), default=None)
    span = (last - first) if first is not None and last is not None else None
    return {"orders": len(refs), "per_order": args.per_order, **summary, "commit_errors": dict(failures),
            "enqueue_s": round(enqueue_s, 2), "processing_s": round(span, 2) if span else None,
            "directives_per_s": round(len(done) / span, 1) if span else None,
            # CPU the worker spent per directive: 1000 / this = directives/s of a worker that had a core to itself
            "worker_cpu_ms_per_directive": round(worker_cpu * 1000 / len(done), 3) if worker_cpu and done else None}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60, headers=headers(args.token)) as client:
        await setup_channel(client, args.url, unique("dir-prices"))  # the price table is global: set once
        latency = await latency_phase(client, args) if args.orders else None
        throughput = await throughput_phase(client, args) if args.burst_orders else None
    return {"bench": "directives", "url": args.url, "topic": TOPIC, "latency": latency, "throughput": throughput,
            "machine": machine()}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint (default {DEFAULT_URL})")
    parser.add_argument("--token", help="API token with the admin role (directives are admin-only)")
    parser.add_argument("--orders", type=int, default=40, help="latency phase: orders, one directive each (0: skip)")
    parser.add_argument("--rate", type=float, default=2.0, help="latency phase: orders per second (default 2)")
    parser.add_argument("--burst-orders", type=int, default=40, help="throughput phase: orders (0: skip)")
    parser.add_argument("--per-order", type=int, default=50, help="throughput phase: directives per order")
    parser.add_argument("--concurrency", type=int, default=4, help="throughput phase: committing clients")
    parser.add_argument("--worker-pid", type=int, action="append",
                        help="pid of the worker (children included; repeatable) to report its CPU per directive")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for the directives to finish")
    args = parser.parse_args(argv)
    if not 0 <= args.orders <= 10_000 or not 0 <= args.burst_orders <= 10_000 or not 1 <= args.per_order <= 500:
        parser.error("--orders and --burst-orders must be 0..10000, --per-order 1..500")
    if not 0 < args.rate <= 100 or not 1 <= args.concurrency <= 64:
        parser.error("--rate must be in (0, 100] and --concurrency 1..64")
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse()))), flush=True)

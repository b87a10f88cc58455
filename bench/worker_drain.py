"""Directives/s of the worker alone: a backlog of queued `notification.send` rows sent as messages of `--batch` ids.

    OMNIMAN_DATABASE_URL=postgresql://… OMNIMAN_REDIS_URL=redis://… OMNIMAN_BROKER_NAMESPACE=… \\
        python bench/worker_drain.py --count 2000 --batch 1 --worker-pid PID

bench/directives.py commits orders over HTTP, so on a small machine its directives/s is bounded by how fast the web
commits (it says so: `enqueue_s` ≈ `processing_s`). This one takes the web out: it writes `--count` queued rows
straight into the database (as a commit would, on a channel of its own), sends their ids to the worker's Redis
queue, `--batch` per message (1: as single-directive commits arrive; 50: as a commit of 50 directives arrives), and
waits until every row is `done` and every message has been acked. Run it with the same environment as the worker
(`omniman worker --processes 1`) and nothing else running directives. Prints ONE JSON line: directives/s (from the
first claim to the last `done`, both by the database's rows), `claims` (distinct claim times: how many batches ran
them), `acked_s` (from the first send until the queue held no message, the worker having acked every one) and, with
`--worker-pid`, the worker's CPU per directive over all of that (messages that found their directive done included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import cpu_seconds, machine
from sqlalchemy import func, select

from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.services import channels, outbox
from omniman_gql.settings import get_settings

TOPIC = "notification.send"
ROWS_PER_TRANSACTION = 500


async def write_backlog(hub: Hub, count: int, marker: str) -> list[int]:
    """`count` queued rows on a channel of their own, none dispatched (this script sends them itself)."""
    await channels.upsert_channel(hub, code=marker, name="Worker drain", config={"notifications": {"recipient": "-"}})
    ids: list[int] = []
    for start in range(0, count, ROWS_PER_TRANSACTION):
        async with hub.transaction() as uow:
            rows = await outbox.enqueue_many(uow, [
                (TOPIC, {"channel_code": marker, "status": "ready", "order_ref": f"{marker}-{n}"})
                for n in range(start, min(count, start + ROWS_PER_TRANSACTION))], order_ref=marker)
            uow.directive_ids.clear()
        ids.extend(row.id for row in rows if row.id is not None)
    return ids


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import tasks.actors  # the worker's actors, declared on the broker built from the environment
    import tasks.broker

    # Versions before batched messages have only run_directive(id): they can be measured at --batch 1.
    batched = getattr(tasks.actors, "run_directives", None)
    if batched is None and args.batch != 1:
        raise SystemExit("this hub's worker takes one id per message: use --batch 1")
    settings = get_settings()
    if not settings.redis_url:
        raise SystemExit("set OMNIMAN_REDIS_URL (and the worker's OMNIMAN_BROKER_NAMESPACE): this drives a worker")
    hub = Hub.create(settings)
    table = Directive.__table__
    try:
        marker = f"drain-{uuid.uuid4().hex[:8]}"
        ids = await write_backlog(hub, args.count, marker)
        cpu = cpu_seconds(args.worker_pid) if args.worker_pid else None
        started = time.perf_counter()
        for start in range(0, len(ids), args.batch):
            if batched is not None:
                batched.send(ids[start:start + args.batch])
            else:
                tasks.actors.run_directive.send(ids[start])
        send_s = time.perf_counter() - started
        deadline = time.monotonic() + args.timeout
        pending = len(ids)
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            async with hub.transaction(readonly=True) as uow:
                pending = (await uow.execute(select(func.count()).select_from(table).where(
                    table.c.order_ref == marker, table.c.status != "done"))).scalar_one()
        # Every message acked (dramatiq keeps a message in the queue's hash until its ack): the messages of ids a
        # batch already ran are work of the worker's too.
        messages = f"{settings.broker_namespace}:{tasks.broker.QUEUE}.msgs"
        client = tasks.broker.broker.client
        while client.hlen(messages) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        acked_s = time.perf_counter() - started
        if cpu is not None:
            cpu = cpu_seconds(args.worker_pid) - cpu
        async with hub.transaction(readonly=True) as uow:
            first, last, claims = (await uow.execute(
                select(func.min(table.c.started_at), func.max(table.c.updated_at),
                       func.count(func.distinct(table.c.started_at))).where(table.c.order_ref == marker))).one()
    finally:
        await hub.dispose()
    span = (last - first).total_seconds() if first and last else None
    done = len(ids) - pending
    return {"bench": "worker_drain", "topic": TOPIC, "directives": len(ids), "batch": args.batch, "not_done": pending,
            "send_s": round(send_s, 2), "processing_s": round(span, 2) if span else None, "claims": claims,
            "acked_s": round(acked_s, 2),
            "directives_per_s": round(done / span, 1) if span else None,
            "worker_cpu_ms_per_directive": round(cpu * 1000 / done, 3) if cpu and done else None,
            "machine": machine()}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="directives in the backlog (default 2000)")
    parser.add_argument("--batch", type=int, default=1, help="ids per message, 1..50 (default 1)")
    parser.add_argument("--worker-pid", type=int, action="append",
                        help="pid of the worker (children included; repeatable) to report its CPU per directive")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for the backlog to drain")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 100_000 or not 1 <= args.batch <= 50:
        parser.error("--count must be 1..100000 and --batch 1..50")
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse()))), flush=True)

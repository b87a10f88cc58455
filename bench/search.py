"""Order search at scale, in process: seeds `--orders` orders (bulk INSERTs, with tickets, tabs, external refs,
handles and customers) on one channel, then times `orders(search:)` reads by each kind of locator.

    python bench/search.py --database-url sqlite:////tmp/bench/search.db
    python bench/search.py --database-url postgresql://postgres@127.0.0.1:5432/omniman_bench

Prints ONE JSON line: p50/p95/max milliseconds per locator kind and over all searches (each a page of 25, newest
first, as the API asks for it). Seeding is skipped when the channel already holds the orders.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select

from omniman_gql.cli import upgrade_database
from omniman_gql.models import Customer, Order, Ref, table_of
from omniman_gql.runtime import Hub
from omniman_gql.services import channels, reads
from omniman_gql.settings import Settings

CHANNEL = "bench-search"
CHUNK = 5_000
PER_DAY = 400  # orders per business day: tickets 001…400, then a new day
ORDERS, REFS, CUSTOMERS = table_of(Order), table_of(Ref), table_of(Customer)


def ref_of(i: int) -> str:
    return f"ORD-20261207-{i:08X}"


def phone_of(c: int) -> str:
    return f"1198{c:07d}"


async def seed(hub: Hub, count: int) -> float:
    started = time.perf_counter()
    await channels.upsert_channel(hub, code=CHANNEL, config={"ticket": {"ref_type": "TICKET", "width": 3}})
    async with hub.transaction(readonly=True) as uow:
        have = (await uow.execute(select(func.count()).select_from(ORDERS).where(
            ORDERS.c.channel_code == CHANNEL))).scalar_one()
    if have >= count:
        return 0.0
    now = dt.datetime.now(dt.UTC)
    customers = count // 10
    for start in range(0, customers, CHUNK):
        async with hub.transaction() as uow:
            await uow.execute(insert(CUSTOMERS), [{
                "code": f"BC{c}", "name": f"Cliente {c}", "name_key": f"cliente {c}", "phone": phone_of(c),
                "phone_digits": phone_of(c), "tags": [], "is_active": True, "orders_count": 0, "total_spent_q": 0,
                "created_at": now, "updated_at": now} for c in range(start, min(start + CHUNK, customers))])
    for start in range(have, count, CHUNK):
        orders, refs = [], []
        for i in range(start, min(start + CHUNK, count)):
            day, number = divmod(i, PER_DAY)
            ticket = f"{number + 1:03d}"
            created = now - dt.timedelta(seconds=count - i)
            orders.append({
                "ref": ref_of(i), "channel_code": CHANNEL, "session_key": f"BS-{i}", "handle_type": "phone",
                "handle_ref": f"H{i}", "external_ref": f"EXT-{i}" if i % 3 == 0 else None, "status": "new",
                "currency": "BRL", "total_q": 1000, "items_count": 1, "snapshot": {"ticket": ticket},
                "created_at": created, "updated_at": created, "customer_code": f"BC{i % customers}"})
            refs.append({"channel_code": CHANNEL, "ref_type": "TICKET", "value": ticket, "scope_key": f"D{day:05d}",
                         "session_key": None, "order_ref": ref_of(i), "copy_to_order": False,
                         "expires_on_close": False, "is_active": True, "created_at": created,
                         "deactivated_at": None})
            if i % 5 == 0:  # a tab that ended when its session committed
                refs.append({"channel_code": CHANNEL, "ref_type": "TAB", "value": f"TAB{i}", "scope_key": "",
                             "session_key": f"BS-{i}", "order_ref": None, "copy_to_order": False,
                             "expires_on_close": True, "is_active": False, "created_at": created,
                             "deactivated_at": created})
        async with hub.transaction() as uow:
            await uow.execute(insert(ORDERS), orders)
            await uow.execute(insert(REFS), refs)
    return time.perf_counter() - started


def terms(count: int, n: int, rng: random.Random) -> dict[str, list[str]]:
    pick = [rng.randrange(count) for _ in range(n)]
    customers = count // 10
    return {
        "order_ref": [ref_of(i).lower() for i in pick],
        "external_ref": [f"EXT-{i - i % 3}" for i in pick],
        "handle_ref": [f"H{i}" for i in pick],
        "ticket": [f"{rng.randrange(1, PER_DAY + 1):03d}" for _ in pick],
        "tab": [f"tab{i - i % 5}" for i in pick],
        "customer_phone": [phone_of(i % customers) for i in pick],
        "customer_name": [f"Cliente {i % customers}" for i in pick],
        "nothing": [f"NOPE-{i}" for i in pick],
    }


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2), "max_ms": round(ordered[-1], 2)}


async def run(args: argparse.Namespace) -> dict[str, object]:
    hub = Hub.create(Settings(database_url=args.database_url, redis_url=None))
    seeded_s = await seed(hub, args.orders)
    rng = random.Random(7)
    timings: dict[str, list[float]] = {}
    found: dict[str, int] = {}
    for kind, values in terms(args.orders, args.searches, rng).items():
        await reads.order_page(hub, first=25, search=values[0])  # warm the statement caches
        for value in values:
            before = time.perf_counter()
            page = await reads.order_page(hub, first=25, search=value, channel_codes=[CHANNEL])
            timings.setdefault(kind, []).append((time.perf_counter() - before) * 1000)
            found[kind] = found.get(kind, 0) + (1 if page.rows else 0)
    every = [t for values in timings.values() for t in values]
    baseline = []  # the same page without a search: the fixed cost of a read (transaction, statement, rows)
    for _ in range(args.searches):
        before = time.perf_counter()
        await reads.order_page(hub, first=25, channel_codes=[CHANNEL])
        baseline.append((time.perf_counter() - before) * 1000)
    await hub.dispose()
    return {"bench": "search", "database": args.database_url.split(":", 1)[0], "orders": args.orders,
            "seed_s": round(seeded_s, 1), "searches_per_kind": args.searches, "all": summary(every),
            "no_search_page": summary(baseline),
            "by_kind": {kind: {**summary(values), "hits": found[kind]} for kind, values in timings.items()}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="sqlite:///… or postgresql://… (migrated here)")
    parser.add_argument("--orders", type=int, default=100_000, help="orders on the bench channel")
    parser.add_argument("--searches", type=int, default=50, help="searches timed per locator kind")
    arguments = parser.parse_args()
    upgrade_database(Settings(database_url=arguments.database_url, redis_url=None))
    print(json.dumps(asyncio.run(run(arguments))), flush=True)

"""SQL statements per use case of a checkout (open, modify with two lines, commit), run in process on a database.

    python bench/statements.py --database-url sqlite:////tmp/bench/statements.db      # created and migrated
    python bench/statements.py --database-url postgresql://postgres@127.0.0.1:5432/omniman_bench

Prints ONE JSON line: for each use case, the statements sent to the database (BEGIN/COMMIT included) and the
server-side CPU time per checkout measured over `--repeat` checkouts. Fewer statements means less time holding
SQLite's write lock and fewer round trips to PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event

from omniman_gql.cli import upgrade_database
from omniman_gql.runtime import Hub
from omniman_gql.services import catalog, channels, commit, sessions
from omniman_gql.settings import Settings

SKUS = {"BENCH-COFFEE": 550, "BENCH-CAKE": 1290}


async def _python_calls(step: object) -> int:
    """Python function calls made by one more run of `step`: a load-independent measure of interpreter work."""
    profiler = cProfile.Profile()
    profiler.enable()
    await step()  # type: ignore[operator]
    profiler.disable()
    return int(pstats.Stats(profiler).total_calls)  # type: ignore[attr-defined]


def _count_at_psycopg(seen: list[str]) -> None:
    """PostgreSQL: count at psycopg's cursor and connection, where both SQLAlchemy's execution and pg_direct send
    their statements. An engine event listener would not see pg_direct's, which skip SQLAlchemy's execution."""
    import psycopg

    execute, commit = psycopg.AsyncCursor.execute, psycopg.AsyncConnection.commit

    async def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(query).split(None, 1)[0].upper())
        return await execute(self, query, *args, **kwargs)

    async def counted_commit(self: Any) -> None:
        seen.append("COMMIT")
        await commit(self)

    psycopg.AsyncCursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.AsyncConnection.commit = counted_commit  # type: ignore[method-assign]


async def run(args: argparse.Namespace) -> dict[str, object]:
    settings = Settings(database_url=args.database_url, redis_url=None)
    hub = Hub.create(settings)
    seen: list[str] = []
    if hub.engine.dialect.name == "postgresql":
        _count_at_psycopg(seen)
    else:
        @event.listens_for(hub.engine.sync_engine, "before_cursor_execute")
        def _count(conn: object, cursor: object, statement: str, *rest: object) -> None:
            seen.append(statement.split(None, 1)[0].upper())

        @event.listens_for(hub.engine.sync_engine, "commit")
        def _commit(conn: object) -> None:
            seen.append("COMMIT")

    code = f"stmt-{uuid.uuid4().hex[:8]}"
    await channels.upsert_channel(hub, code=code, config=(args.config and json.loads(args.config)) or {})
    await catalog.set_prices(hub, prices=[{"sku": s, "unit_price_q": p} for s, p in SKUS.items()])
    counts: dict[str, Counter[str]] = {}
    cpu: Counter[str] = Counter()
    calls: Counter[str] = Counter()

    async def checkout(record: bool) -> None:
        key = f"S-{uuid.uuid4().hex[:10]}"
        steps = [
            ("open", lambda: sessions.open_session(hub, channel_code=code, session_key=key)),
            ("modify", lambda: sessions.modify_session(hub, channel_code=code, session_key=key, ops=[
                {"op": "add_line", "sku": "BENCH-COFFEE", "qty": "2"},
                {"op": "add_line", "sku": "BENCH-CAKE", "qty": "1"}])),
            ("commit", lambda: commit.commit_session(hub, channel_code=code, session_key=key,
                                                     idempotency_key=f"k-{key}")),
        ]
        for name, step in steps:
            seen.clear()
            if record:
                calls[name] = await _python_calls(step)
                counts[name] = Counter(seen)
                continue
            before = time.process_time()
            await step()
            cpu[name] += time.process_time() - before

    await checkout(record=False)  # warm caches (compiled statements, parsed SQL) before counting
    await checkout(record=True)
    cpu.clear()
    started_cpu, started = time.process_time(), time.perf_counter()
    for _ in range(args.repeat):
        await checkout(record=False)
    cpu_ms = (time.process_time() - started_cpu) / args.repeat * 1000
    wall_ms = (time.perf_counter() - started) / args.repeat * 1000
    await hub.dispose()
    return {"bench": "statements", "database": settings.async_database_url.split(":", 1)[0],
            "statements": {name: {"total": sum(c.values()), **dict(sorted(c.items()))} for name, c in counts.items()},
            "per_checkout": sum(sum(c.values()) for c in counts.values()),
            "python_calls": {**calls, "checkout": sum(calls.values())},
            "cpu_ms_per_checkout": round(cpu_ms, 2),
            "cpu_ms": {name: round(value / args.repeat * 1000, 2) for name, value in cpu.items()},
            "wall_ms_per_checkout": round(wall_ms, 2),
            "repeat": args.repeat}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="sqlite:///… or postgresql://… (migrated here)")
    parser.add_argument("--repeat", type=int, default=200, help="checkouts timed after the counted one")
    parser.add_argument("--config", help="channel config as JSON (e.g. post_commit_directives)")
    arguments = parser.parse_args()
    upgrade_database(Settings(database_url=arguments.database_url, redis_url=None))
    print(json.dumps(asyncio.run(run(arguments))), flush=True)

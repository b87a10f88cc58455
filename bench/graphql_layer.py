"""CPU time and Python calls per checkout in the web server's GraphQL/HTTP layer, measured in process.

    python bench/graphql_layer.py --database-url postgresql://postgres@127.0.0.1:5432/omniman_bench
    python bench/graphql_layer.py --database-url sqlite:////tmp/bench/layer.db --stub-services

Drives the real ASGI app (schema.asgi.create_app: middleware, Strawberry's view, the schema and its extensions) with
the checkout's three documents (benchlib), called as uvicorn calls it but without sockets or HTTP parsing, and runs
the same checkout through the services alone: the difference is the layer's. With --stub-services the mutations'
service calls answer from memory (what a real checkout returned), so only the layer runs at all (steadier numbers on a
busy machine). Python calls are load-independent; CPU is the median of --rounds rounds of --repeat checkouts.
Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import COMMIT_SESSION, MODIFY_SESSION, OPEN_SESSION, SKUS

from omniman_gql.cli import upgrade_database
from omniman_gql.services import auth, catalog, channels, commit, sessions
from omniman_gql.settings import Settings

Step = Callable[[], Awaitable[Any]]
LINES = [("BENCH-COFFEE", "2"), ("BENCH-CAKE", "1")]
BENCH_RATES = {f"rate_limit_{kind}": "100000000/hour" for kind in ("modify", "commit", "read")}


class InProcessApp:
    """The ASGI app with its lifespan running; `post` sends one GraphQL request through it."""

    def __init__(self, app: Any, token: str | None = None) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.token = token
        self._lifespan: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._lifespan = asyncio.create_task(self.app(scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._from_app.get()
        assert message["type"] == "lifespan.startup.complete", message

    async def stop(self) -> None:
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._from_app.get()
        assert self._lifespan is not None
        await self._lifespan

    async def post(self, query: str, variables: dict[str, Any]) -> tuple[int, bytes]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if self.token:
            headers.append((b"authorization", f"Bearer {self.token}".encode()))
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http", "method": "POST",
                 "root_path": "", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
                 "headers": headers, "state": self.state.copy()}
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # as a server does while the client stays connected
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        return sent[0]["status"], b"".join(message.get("body", b"") for message in sent[1:])


def checkout_over_http(app: InProcessApp, channel: str) -> list[Step]:
    key = f"S-{uuid.uuid4().hex[:10]}"
    ref = {"channelCode": channel, "sessionKey": key}
    documents = [(OPEN_SESSION, {"input": ref}),
                 (MODIFY_SESSION, {"input": {**ref, "ops": [{"addLine": {"sku": s, "qty": q}} for s, q in LINES]}}),
                 (COMMIT_SESSION, {"input": {**ref, "idempotencyKey": f"idem-{key}"}})]

    async def post(query: str, variables: dict[str, Any]) -> None:
        status, body = await app.post(query, variables)
        if status != 200 or b'"errors":[]' not in body:
            raise RuntimeError(f"checkout failed: {status} {body[:300]!r}")

    return [lambda q=q, v=v: post(q, v) for q, v in documents]


def checkout_in_services(hub: Any, channel: str) -> list[Step]:
    key = f"S-{uuid.uuid4().hex[:10]}"
    ops = [{"op": "add_line", "sku": s, "qty": q} for s, q in LINES]
    return [lambda: sessions.open_session(hub, channel_code=channel, session_key=key, actor="bench"),
            lambda: sessions.modify_session(hub, channel_code=channel, session_key=key, actor="bench", ops=ops),
            lambda: commit.commit_session(hub, channel_code=channel, session_key=key, actor="bench",
                                          idempotency_key=f"k-{key}")]


async def stub_services(hub: Any, channel: str) -> None:
    """The mutation modules' service calls answer with what one real checkout returned."""
    import schema.mutations.commit as commit_mutations
    import schema.mutations.sessions as session_mutations

    opened, modified, committed = [await step() for step in checkout_in_services(hub, channel)]

    def answer(value: Any) -> Callable[..., Awaitable[Any]]:
        async def service(*_args: Any, **_kwargs: Any) -> Any:
            return value
        return service

    session_mutations.sessions = SimpleNamespace(  # type: ignore[attr-defined]
        open_session=answer(opened), modify_session=answer(modified))
    commit_mutations.commit = SimpleNamespace(commit_session=answer(committed))  # type: ignore[attr-defined]


async def python_calls(steps: list[Step]) -> int:
    profiler = cProfile.Profile()
    for step in steps:
        profiler.enable()
        await step()
        profiler.disable()
    return int(pstats.Stats(profiler).total_calls)  # type: ignore[attr-defined]


async def cpu_ms(make: Callable[[], list[Step]], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        for step in make():
            await step()
    return (time.process_time() - started) / repeat * 1000


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from schema.asgi import create_app

    # One token drives every request: its rates raised past the defaults, the limiter kept on (its cost is measured)
    settings = Settings(database_url=args.database_url, redis_url=None, **BENCH_RATES)
    app = InProcessApp(create_app(settings, run_directives=False))
    await app.start()
    try:
        hub = app.state["hub"]
        _row, app.token = await auth.create_token(hub, name="bench-layer", role="admin", channels=())
        channel = f"layer-{uuid.uuid4().hex[:8]}"
        await channels.upsert_channel(hub, code=channel, config={})
        await catalog.set_prices(hub, prices=[{"sku": s, "unit_price_q": p} for s, p in SKUS.items()])
        if args.stub_services:
            await stub_services(hub, channel)
        layers: list[tuple[str, Callable[[], list[Step]]]] = [("app", lambda: checkout_over_http(app, channel))]
        if not args.stub_services:
            layers.append(("services", lambda: checkout_in_services(hub, channel)))
        for _ in range(20):  # warm caches (prepared documents, plans, compiled statements)
            for _name, make in layers:
                for step in make():
                    await step()
        calls = {name: await python_calls(make()) for name, make in layers}
        rounds: dict[str, list[float]] = {name: [] for name, _make in layers}
        for _ in range(args.rounds):
            for name, make in layers:
                rounds[name].append(await cpu_ms(make, args.repeat))
    finally:
        await app.stop()
    cpu = {name: round(statistics.median(values), 3) for name, values in rounds.items()}
    report: dict[str, Any] = {"bench": "graphql_layer", "database": settings.async_database_url.split(":", 1)[0],
                              "stub_services": args.stub_services, "python_calls": calls, "cpu_ms_per_checkout": cpu,
                              "repeat": args.repeat, "rounds": args.rounds}
    if not args.stub_services:
        report["python_calls"]["layer"] = calls["app"] - calls["services"]
        report["cpu_ms_per_checkout"]["layer"] = round(statistics.median(
            a - s for a, s in zip(rounds["app"], rounds["services"], strict=True)), 3)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="sqlite:///… or postgresql://… (migrated here)")
    parser.add_argument("--stub-services", action="store_true", help="answer the service calls from memory")
    parser.add_argument("--repeat", type=int, default=100, help="checkouts per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (the median is reported)")
    arguments = parser.parse_args()
    upgrade_database(Settings(database_url=arguments.database_url, redis_url=None))
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        pass
    else:
        uvloop.install()
    print(json.dumps(asyncio.run(run(arguments))), flush=True)

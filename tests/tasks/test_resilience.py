"""Nothing lost, nothing doubled: a worker killed mid-directive, a broker outage, and concurrent duplicate runs."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis

from omniman_gql.handlers.payment import payment_capture
from omniman_gql.handlers.stock import stock_commit
from omniman_gql.models import Directive, StockHold
from omniman_gql.outages import outage_log
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.settings import Settings
from tasks.actors import run_directive, run_directives
from tasks.broker import build_broker
from tasks.dispatch import DramatiqDispatcher
from tasks.embedded import start_worker, stop_worker
from tasks.sweeper import sweep_once
from tests.factories import make_channel
from tests.tasks.processes import WorkerProcess
from tests.tasks.support import (
    ECOMMERCE_CONFIG,
    all_finished,
    cart,
    checkout,
    describe,
    directive,
    directives,
    ecommerce,
    enqueue,
    events,
    eventually,
    holds,
    on_hand,
)

pytestmark = pytest.mark.anyio


async def held_order(hub: Hub, qty: str = "2") -> tuple[str, list[dict[str, Any]]]:
    """A channel with 10 MUG, and the holds of a committed session of `qty` MUG (no post-commit directives)."""
    shop = await make_channel(hub, config={"required_checks_on_commit": ["stock"]})
    from omniman_gql.services import catalog

    await catalog.set_stock_levels(hub, [{"sku": "MUG", "qty": "10"}])
    await catalog.set_prices(hub, [{"sku": "MUG", "unit_price_q": 1500}])
    key = await cart(hub, shop, [("MUG", qty)])
    (hold,) = await directives(hub, Directive.topic == "stock.hold")
    await svc.run_directive(hub, hold.id or 0)
    outcome = await checkout(hub, shop, key)
    assert outcome.order is not None
    return outcome.order.ref, outcome.order.snapshot["data"]["checks"]["stock"]["result"]["holds"]


# --- a worker process killed with SIGKILL while running a directive ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("effect_first", [False, True], ids=["killed-before-effect", "killed-after-effect"])
async def test_worker_killed_mid_directive_completes_after_restart_exactly_once(
    effect_first: bool, task_hub: Hub, dispatching_hub: Hub, task_settings: Settings, tmp_path: Path
) -> None:
    order_ref, order_holds = await held_order(task_hub)
    started, gate, log = tmp_path / "started", tmp_path / "gate", tmp_path / "worker.log"
    first = WorkerProcess(task_settings, log)
    second = None
    try:
        directive_id = await enqueue(dispatching_hub, "test.gated_stock_commit", {
            "holds": order_holds, "order_ref": order_ref, "started": str(started), "gate": str(gate),
            "effect_first": effect_first}, order_ref=order_ref)
        await eventually(lambda: _exists(started), timeout=30, what=f"the first worker to start (log: {log})")
        running = await directive(task_hub, directive_id)

        first.kill()  # SIGKILL: no cleanup, the row stays `running`
        gate.touch()
        second = WorkerProcess(task_settings, log)
        stuck = await directive(task_hub, directive_id)

        async def swept_until_done() -> Directive | None:
            await sweep_once(dispatching_hub)  # reclaims once the running timeout (1 s) has passed
            row = await directive(task_hub, directive_id)
            return row if row.status in ("done", "failed") else None

        done = await eventually(swept_until_done, timeout=30, what=f"the directive to complete (log: {log})")
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert (running.status, running.attempts) == ("running", 1)
    assert stuck.status == "running"
    assert (done.status, done.attempts) == ("done", 2), describe([done])
    assert started.read_text() == "2"
    assert await on_hand(task_hub, "MUG") == Decimal(8)  # 10 − 2, once
    assert [h.status for h in await holds(task_hub)] == ["fulfilled"]


async def _exists(path: Path) -> bool:
    return path.exists()


# --- Redis down while orders are committed --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server of this test's own, on its own port, that the test stops and starts (never the shared one)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(_free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
async def test_broker_outage_loses_no_directive_and_doubles_none(
    own_redis: RedisServer, task_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # No reclaims here (a long running timeout and lease: a loaded machine may delay a heartbeat past the fixture's
    # 2 s lease, and a takeover would count as a second attempt), and the sweeper re-sends a row at most once a second.
    settings = task_settings.model_copy(update={"redis_url": own_redis.url, "directive_running_timeout_s": 120,
                                                "directive_lease_s": 120.0, "directive_heartbeat_s": 1.0,
                                                "directive_redispatch_after_s": 1.0})
    outage_broker = build_broker(settings)
    outage_broker.declare_actor(run_directive)
    outage_broker.declare_actor(run_directives)
    hub = Hub.create(settings, dispatcher=DramatiqDispatcher(outage_broker))
    worker = start_worker(settings, threads=4, on=outage_broker)
    try:
        shop = await ecommerce(hub, {"MUG": "1000"}, {"MUG": 1500})
        keys = [await cart(hub, shop, [("MUG", "3")], intent=f"pi_{n}") for n in range(100)]
        await eventually(lambda: all_finished(hub, Directive.topic == "stock.hold"), what="the 100 stock checks")

        own_redis.stop()
        outage_log.reset()
        with caplog.at_level(logging.WARNING):
            started = time.monotonic()
            outcomes = [await checkout(hub, shop, key) for key in keys]
            outage_s = time.monotonic() - started
        queued = await directives(hub, Directive.status == "queued")
        own_redis.start()  # empty: every message sent before the outage is gone too

        async def swept_until_finished() -> list[Directive] | None:
            await sweep_once(hub)
            return await all_finished(hub, Directive.topic.in_(["stock.commit", "payment.capture"]))

        finished = await eventually(swept_until_finished, timeout=60, what="every post-commit directive")
    finally:
        await anyio.to_thread.run_sync(lambda: stop_worker(worker))
        await hub.dispose()
        outage_broker.close()

    # The broker being down is one warning line per 10 s, not a traceback per commit.
    dispatch_failures = [r for r in caplog.records if r.name == "omniman.outages" and "dispatching" in r.getMessage()]
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert all(o.result["status"] == "committed" for o in outcomes)
    assert len(queued) == 200 and 1 <= len(dispatch_failures) <= 1 + outage_s / 10 and not tracebacks, tracebacks
    assert dispatch_failures[0].getMessage().startswith("broker unavailable (dispatching directives")
    assert len(finished) == 200
    assert {(d.status, d.attempts) for d in finished} == {("done", 1)}, describe(finished)
    hub_reader = Hub.create(settings)
    assert await on_hand(hub_reader, "MUG") == Decimal(1000 - 300)
    try:
        for outcome in outcomes:
            assert len(await events(hub_reader, outcome.result["order_id"], "payment.captured")) == 1
        assert {h.status for h in await holds(hub_reader)} == {"fulfilled"}
    finally:
        await hub_reader.dispose()
    print(f"100 commits with Redis down took {outage_s:.2f}s")


# --- the same directive delivered twice at once -----------------------------------------------------------------------


async def test_same_directive_run_twice_concurrently_applies_its_effect_once(task_settings: Settings) -> None:
    hubs = [Hub.create(task_settings) for _ in range(2)]
    try:
        shop = await ecommerce(hubs[0], {"MUG": "10"}, {"MUG": 1500})
        key = await cart(hubs[0], shop, [("MUG", "2")], intent="pi_twice")
        (hold,) = await directives(hubs[0], Directive.topic == "stock.hold")
        await svc.run_directive(hubs[0], hold.id or 0)
        order = (await checkout(hubs[0], shop, key)).order
        assert order is not None
        post_commit = await directives(hubs[0], Directive.order_ref == order.ref)

        results: list[svc.RunOutcome] = []

        async def deliver(hub: Hub, directive_id: int) -> None:
            results.append(await svc.run_directive(hub, directive_id))

        async with anyio.create_task_group() as tg:
            for row in post_commit:
                for hub in hubs:
                    tg.start_soon(deliver, hub, row.id)
        rows = await directives(hubs[0], Directive.order_ref == order.ref)
        captured = await events(hubs[0], order.id, "payment.captured")
        stock_left = await on_hand(hubs[0], "MUG")
    finally:
        for hub in hubs:
            await hub.dispose()

    assert sorted(r.status for r in results) == ["done", "done", "skipped", "skipped"]
    assert [(d.topic, d.status, d.attempts) for d in rows] == [("stock.commit", "done", 1),
                                                               ("payment.capture", "done", 1)]
    assert len(captured) == 1 and stock_left == Decimal(8)


async def test_handlers_overlapping_after_a_reclaim_still_apply_their_effect_once(task_hub: Hub) -> None:
    shop = await ecommerce(task_hub, {"MUG": "10"}, {"MUG": 1500})
    key = await cart(task_hub, shop, [("MUG", "2")], intent="pi_overlap")
    (hold,) = await directives(task_hub, Directive.topic == "stock.hold")
    await svc.run_directive(task_hub, hold.id or 0)
    order = (await checkout(task_hub, shop, key)).order
    assert order is not None
    commit_row, capture_row = await directives(task_hub, Directive.order_ref == order.ref)

    # Two runs of each handler at once, as when a slow run is reclaimed and re-run while still going.
    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(stock_commit, task_hub, commit_row)
            tg.start_soon(payment_capture, task_hub, capture_row)

    assert await on_hand(task_hub, "MUG") == Decimal(8)
    assert len(await events(task_hub, order.id, "payment.captured")) == 1
    assert [h.status for h in await holds(task_hub, StockHold.reference == f"{shop}:{key}")] == ["fulfilled"]
    assert ECOMMERCE_CONFIG["post_commit_directives"] == [commit_row.topic, capture_row.topic]

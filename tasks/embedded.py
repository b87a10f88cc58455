"""The embedded default: a dramatiq worker and the sweeper inside this process, so `omniman serve` alone runs
directives (stock holds, payment captures) with no Redis and no other process."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import dramatiq
from dramatiq import Worker

from omniman_gql.protocols import EventPublisher
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings

from .broker import broker, worker_hub_of
from .sweeper import run_sweeper

log = logging.getLogger("omniman.worker")

WORKER_THREADS = 4
SHUTDOWN_TIMEOUT_MS = 10_000
_lock = threading.Lock()
_running: Worker | None = None


class LoopBoundPublisher:
    """Publishes through a publisher that lives on another event loop (the web's), from the worker's loop."""

    def __init__(self, publisher: EventPublisher, loop: asyncio.AbstractEventLoop) -> None:
        self._publisher = publisher
        self._loop = loop

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        future = asyncio.run_coroutine_threadsafe(self._publisher.publish(topic, message), self._loop)
        await asyncio.wrap_future(future)


def start_worker(settings: Settings, *, threads: int = WORKER_THREADS, publisher: EventPublisher | None = None,
                 on: dramatiq.Broker | None = None) -> Worker:
    """Boot a dramatiq Worker on the process's broker (or `on`, built by build_broker with the actor declared) whose
    Hub uses `settings`. One per process: dramatiq's event loop thread is process-wide."""
    global _running
    target = on or broker
    with _lock:
        if _running is not None:
            raise RuntimeError("a worker is already running in this process")
        hub_middleware = worker_hub_of(target)
        hub_middleware.settings = settings
        hub_middleware.publisher = publisher
        worker = Worker(target, worker_threads=threads, worker_timeout=settings.worker_timeout_ms)
        worker.start()
        _running = worker
    return worker


def stop_worker(worker: Worker, *, timeout_ms: int = SHUTDOWN_TIMEOUT_MS) -> None:
    """Let running directives finish (up to the timeout), then shut the worker down."""
    global _running
    with _lock:
        try:
            worker.stop(timeout=timeout_ms)
        finally:
            # Worker.start adds a middleware bound to this worker; drop it so a later worker starts clean.
            target = worker.broker
            target.middleware[:] = [m for m in target.middleware if getattr(m, "worker", None) is not worker]
            hub_middleware = worker_hub_of(target)
            hub_middleware.settings = hub_middleware.publisher = None
            _running = None


@asynccontextmanager
async def embedded_runtime(hub: Hub, *, sweeper: bool = True) -> AsyncIterator[None]:
    """Run the worker (its own threads and event loop, its own Hub on `hub.settings`) and the sweeper loop (on this
    loop, with `hub`, whose dispatcher must be a DramatiqDispatcher) while the block runs."""
    publisher = LoopBoundPublisher(hub.publisher, asyncio.get_running_loop())
    worker = await anyio.to_thread.run_sync(lambda: start_worker(hub.settings, publisher=publisher))
    stop = asyncio.Event()
    task = asyncio.create_task(run_sweeper(hub, stop=stop)) if sweeper else None
    log.info("embedded worker and sweeper running")
    try:
        yield
    finally:
        stop.set()
        if task is not None:
            with suppress(asyncio.CancelledError):
                await task
        await anyio.to_thread.run_sync(lambda: stop_worker(worker))

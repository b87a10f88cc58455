"""Run as `python -m tests.tasks.embedded_probe` with no OMNIMAN_REDIS_URL: the e-commerce flow on the in-process
broker, directives run by the embedded worker and sweeper; prints one JSON line describing what happened."""

from __future__ import annotations

import asyncio
import json
import time

from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.settings import get_settings
from tasks.broker import broker
from tasks.dispatch import dispatcher_for
from tasks.embedded import embedded_runtime
from tests.tasks.support import all_finished, cart, checkout, ecommerce, enqueue, eventually, on_hand


async def main() -> dict[str, object]:
    settings = get_settings()
    hub = Hub.create(settings, dispatcher=dispatcher_for(settings))
    try:
        async with embedded_runtime(hub):
            shop = await ecommerce(hub, {"MUG": "10"}, {"MUG": 1500})
            key = await cart(hub, shop, [("MUG", "2")])
            await eventually(lambda: all_finished(hub, Directive.topic == "stock.hold"), what="the stock check")
            started = time.monotonic()
            order = (await checkout(hub, shop, key)).order
            assert order is not None
            done = await eventually(lambda: all_finished(hub, Directive.order_ref == order.ref), what="post-commit")
            latency_ms = (time.monotonic() - started) * 1000
            in_db_ms = (max(d.updated_at for d in done) - order.created_at).total_seconds() * 1000
            retried = await enqueue(hub, "test.flaky", {"fail_times": 1})  # needs the worker's delayed re-send
            (flaky,) = await eventually(lambda: all_finished(hub, Directive.id == retried), what="the retry")
            return {"broker": type(broker).__name__, "directives": [[d.topic, d.status] for d in done],
                    "flaky": [flaky.status, flaky.attempts], "on_hand": str(await on_hand(hub, "MUG")),
                    "latency_ms": round(latency_ms), "in_db_ms": round(in_db_ms)}
    finally:
        await hub.dispose()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))

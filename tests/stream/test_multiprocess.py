"""Two real `omniman serve` processes sharing PostgreSQL and Redis: a subscriber on A hears what B commits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis
from websockets.asyncio.client import ClientConnection, connect

from omniman_gql.live.eventlog import Position
from omniman_gql.settings import Settings
from tests.api.operations import COMMIT_SESSION, MODIFY_SESSION, OPEN_SESSION, TRANSITION_ORDER, UPSERT_CHANNEL
from tests.fixtures.app import free_port, wait_for_health
from tests.fixtures.db import truncate_all
from tests.graphql import bearer, create_token_in, init_payload
from tests.stream.wsclient import ORDER_EVENTS
from tests.test_cli_serve import omniman_command

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.postgresql, pytest.mark.redis]


TOKEN: dict[str, str] = {}  # the admin token of the running `servers`


@pytest.fixture
def servers(request: pytest.FixtureRequest, redis_url: str, namespace: str, tmp_path: Path) -> Iterator[list[str]]:
    """Processes A and B: same database, same Redis; A re-reads the database only every 60 s, so whatever it
    delivers sooner came through Redis."""
    if "postgresql" not in request.config.getoption("--db"):
        pytest.skip("needs PostgreSQL (--db)")
    database_url = request.getfixturevalue("postgresql_url")
    truncate_all(database_url)
    TOKEN["admin"] = create_token_in(Settings(database_url=database_url, redis_url=None))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIMAN_")}
    env.update(OMNIMAN_DATABASE_URL=database_url, OMNIMAN_REDIS_URL=redis_url, OMNIMAN_BROKER_NAMESPACE=namespace,
               OMNIMAN_SUBSCRIPTION_POLL_S="60", OMNIMAN_GRAPHIQL="false")
    processes, urls = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = (tmp_path / f"{name}.log").open("w")
            processes.append(subprocess.Popen(
                [*omniman_command(), "serve", "--port", str(port), "--no-migrate", "--log-level", "warning"],
                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_for_health(url, deadline_s=30)
        yield urls
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{namespace}*"):  # what the broker left under this test's namespace
            client.delete(key)
        client.close()


def gql(base_url: str, query: str, variables: dict[str, Any], name: str) -> dict[str, Any]:
    response = httpx.post(f"{base_url}/graphql", json={"query": query, "variables": variables}, timeout=10,
                          headers=bearer(TOKEN["admin"]))
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    assert body["data"][name].get("errors", []) == [], body
    return body["data"][name]  # type: ignore[no-any-return]


def commit_order(base_url: str, channel: str) -> str:
    key = f"S-{uuid.uuid4().hex[:8]}"
    gql(base_url, OPEN_SESSION, {"input": {"channelCode": channel, "sessionKey": key}}, "openSession")
    gql(base_url, MODIFY_SESSION, {"input": {"channelCode": channel, "sessionKey": key, "ops": [
        {"addLine": {"sku": "COFFEE", "qty": "1", "unitPriceQ": 550}}]}}, "modifySession")
    result = gql(base_url, COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": key,
                                                      "idempotencyKey": uuid.uuid4().hex}}, "commitSession")
    return str(result["result"]["orderRef"])


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    with anyio.fail_after(20):
        message = json.loads(await ws.recv())
    assert message["type"] == "next" and "errors" not in message["payload"], message
    return message["payload"]["data"]["orderEvents"]  # type: ignore[no-any-return]


async def test_subscriber_on_process_a_receives_what_process_b_commits(
    servers: list[str], redis_client: redis.Redis, namespace: str
) -> None:
    a, b = servers
    channel = f"pos-{uuid.uuid4().hex[:6]}"
    gql(b, UPSERT_CHANNEL, {"input": {"code": channel, "name": "POS"}}, "upsertChannel")
    ws_url = a.replace("http://", "ws://") + "/graphql"
    protocols = ["graphql-transport-ws"]
    async with connect(ws_url, subprotocols=protocols, compression=None) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(TOKEN["admin"])}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        # From the start of this fresh channel: whatever the timing, the first order cannot be missed.
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": ORDER_EVENTS, "variables": {"channels": [channel], "after": Position(floor=0).encode()}}}))
        topic = f"{namespace}:order-events:{channel}"
        with anyio.fail_after(10):
            while dict(redis_client.pubsub_numsub(topic)).get(topic.encode(), 0) < 1:
                await anyio.sleep(0.02)
        ref = await anyio.to_thread.run_sync(commit_order, b, channel)
        created = await next_event(ws)
        assert (created["type"], created["order"]["ref"], created["order"]["channel"]["code"]) == (
            "created", ref, channel)
        # A is surely listening now; B's next change must come through Redis (A polls only every 60 s).
        started = time.monotonic()
        await anyio.to_thread.run_sync(lambda: gql(b, TRANSITION_ORDER, {"input": {"ref": ref, "status": "confirmed"}},
                                                   "transitionOrder"))
        changed = await next_event(ws)
        assert (changed["type"], changed["order"]["status"]) == ("status_changed", "confirmed")
        assert time.monotonic() - started < 10
    with anyio.fail_after(10):  # the abrupt close released A's Redis subscription
        while dict(redis_client.pubsub_numsub(topic)).get(topic.encode(), 0) != 0:
            await anyio.sleep(0.02)

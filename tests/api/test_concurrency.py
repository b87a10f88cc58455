"""Real concurrency over HTTP: a real uvicorn server, 50 simultaneous commits of one session with one key."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from omniman_gql.runtime import Hub
from tests.graphql import bearer, new_token

from .operations import COMMIT_SESSION, MODIFY_SESSION, OPEN_SESSION, ORDERS, UPSERT_CHANNEL

pytestmark = pytest.mark.anyio
CONCURRENT = 50


async def gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def test_50_concurrent_commits_with_one_key_make_one_order(live_server: str, hub: Hub) -> None:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=live_server, timeout=10, headers=bearer(await new_token(hub))) as admin:
        await gql(admin, UPSERT_CHANNEL, {"input": {"code": "pos"}})
    till = bearer(await new_token(hub, "client", ["pos"], name="till-1"))
    async with httpx.AsyncClient(base_url=live_server, timeout=60, limits=limits, headers=till) as client:
        await gql(client, OPEN_SESSION, {"input": {"channelCode": "pos", "sessionKey": "RUSH"}})
        await gql(client, MODIFY_SESSION, {"input": {"channelCode": "pos", "sessionKey": "RUSH", "ops": [
            {"addLine": {"sku": "COFFEE", "qty": "2", "unitPriceQ": 550}}]}})
        commit = {"input": {"channelCode": "pos", "sessionKey": "RUSH", "idempotencyKey": "RUSH-1"}}

        results = await asyncio.gather(*(gql(client, COMMIT_SESSION, commit) for _ in range(CONCURRENT)))

        payloads = [r["commitSession"] for r in results]
        assert all(p["errors"] == [] for p in payloads), [p["errors"] for p in payloads if p["errors"]]
        assert {p["result"]["orderRef"] for p in payloads} == {payloads[0]["result"]["orderRef"]}
        assert sorted(p["replayed"] for p in payloads) == [False] + [True] * (CONCURRENT - 1)
        orders = (await gql(client, ORDERS, {"first": 100}))["orders"]["edges"]
        assert [e["node"]["ref"] for e in orders] == [payloads[0]["result"]["orderRef"]]

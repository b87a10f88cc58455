"""The database away (PostgreSQL behind a proxy the test cuts) or busy (SQLite locked by another connection): every
answer is UNAVAILABLE JSON, 503 with `Retry-After` when nothing ran, never a plain-text or masked 500."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from omniman_gql.outages import outage_log
from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.api.operations import OPEN_SESSION, UPSERT_CHANNEL
from tests.fixtures.db import truncate_all
from tests.fixtures.tcp_proxy import CuttableProxy, cuttable_proxy
from tests.graphql import authorize
from tests.stream.wsclient import SESSION_CHANGED, GraphQLWs

DOWN = {"errors": [{"message": "The database is unavailable; retry shortly.", "extensions": {"code": "UNAVAILABLE"}}]}
CHANNELS = "query { channels { code } }"
CHANNEL_AND_TYPENAME = "query($code: String!) { __typename channel(code: $code) { code } }"


@pytest.fixture
def pg_proxy(postgresql_url: str) -> Iterator[tuple[CuttableProxy, str]]:
    """A proxy to the test run's PostgreSQL and the database URL through it (the database emptied first)."""
    truncate_all(postgresql_url)
    url = make_url(postgresql_url)
    with cuttable_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def served(database_url: str, **overrides: Any) -> TestClient:
    settings = Settings(database_url=database_url, redis_url=None, **overrides)
    return TestClient(create_app(settings, run_directives=False))


def assert_unavailable_503(response: httpx.Response, retry_after: str = "2") -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == retry_after
    body: dict[str, Any] = response.json()
    assert [e["extensions"] for e in body["errors"]] == [{"code": "UNAVAILABLE"}], body
    return body


def until_served(client: TestClient, attempts: int = 5) -> httpx.Response:
    """POST CHANNELS until it is answered 200: the first requests after a restore may still meet a connection of
    before the cut (each failure checked as an outage's answer)."""
    for _ in range(attempts):
        response = client.post("/graphql", json={"query": CHANNELS})
        if response.status_code == 200:
            return response
        assert_unavailable_503(response)
    raise AssertionError(f"still unavailable after {attempts} requests")


def test_the_token_lookup_failing_is_a_json_503_with_retry_after(
        pg_proxy: tuple[CuttableProxy, str], caplog: pytest.LogCaptureFixture) -> None:
    proxy, url = pg_proxy
    # No token cache: every request looks its token up, before any GraphQL runs (the failure of issue 16).
    with served(url, token_cache_s=0, unavailable_retry_after_s=7) as client:
        authorize(client, "admin")
        assert client.post("/graphql", json={"query": CHANNELS}).json() == {"data": {"channels": []}}
        proxy.cut()
        outage_log.reset()
        with caplog.at_level(logging.INFO):
            answers = [client.post("/graphql", json={"query": CHANNELS}),
                       client.get("/graphql", params={"query": CHANNELS}),
                       client.get("/metrics")]  # outside the GraphQL view: the app's guard answers the same
        for response in answers:
            assert assert_unavailable_503(response, retry_after="7") == DOWN
            assert response.headers["x-content-type-options"] == "nosniff"
        assert [r for r in caplog.records if r.exc_info] == []  # an outage is not a bug: no traceback
        reports = [r.getMessage() for r in caplog.records if r.name == "omniman.outages"]
        assert len(reports) == 1 and reports[0].startswith("database unavailable (http): "), reports
        proxy.restore()
        assert until_served(client).json() == {"data": {"channels": []}}


def test_a_resolver_meeting_the_outage_answers_unavailable_not_internal(
        pg_proxy: tuple[CuttableProxy, str], caplog: pytest.LogCaptureFixture) -> None:
    proxy, url = pg_proxy
    # The token is remembered, so the request gets into GraphQL and the failure is a resolver's.
    with served(url, token_cache_s=60) as client:
        authorize(client, "admin")
        assert client.post("/graphql", json={"query": CHANNELS}).status_code == 200
        proxy.cut()
        outage_log.reset()
        with caplog.at_level(logging.INFO):
            # Nothing came of the mutation (its payload is non-null, so data is null): 503, the error has its path.
            nothing = client.post("/graphql", json={"query": OPEN_SESSION, "variables": {"input": {
                "channelCode": "pos", "sessionKey": "S-1"}}})
            # Some data came (a nullable field failed beside one that needs no database): 200 with the error.
            partial = client.post("/graphql", json={"query": CHANNEL_AND_TYPENAME, "variables": {"code": "pos"}})
        body = assert_unavailable_503(nothing)
        assert body["data"] is None and body["errors"][0]["path"] == ["openSession"], body
        assert body["errors"][0]["message"] == "The database is unavailable; retry shortly."
        assert partial.status_code == 200 and "retry-after" not in partial.headers
        assert partial.json()["data"] == {"__typename": "Query", "channel": None}
        assert [(e["path"], e["extensions"]) for e in partial.json()["errors"]] == [
            (["channel"], {"code": "UNAVAILABLE"})]
        assert [r for r in caplog.records if r.exc_info] == []
        assert len([r for r in caplog.records if r.name == "omniman.outages"]) == 1
        proxy.restore()
        until_served(client)


def test_a_websocket_whose_token_cannot_be_checked_is_closed_try_again_later(
        pg_proxy: tuple[CuttableProxy, str]) -> None:
    proxy, url = pg_proxy
    with served(url) as client:
        secret = authorize(client, "admin")
        proxy.cut()
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
            raw.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}})
            with pytest.raises(WebSocketDisconnect) as closed:
                raw.receive_json()
        assert (closed.value.code, closed.value.reason) == (1013, "The database is unavailable; retry shortly.")


def test_a_subscription_whose_database_fails_ends_with_unavailable(pg_proxy: tuple[CuttableProxy, str]) -> None:
    proxy, url = pg_proxy
    # The session feed re-reads the database every poll: the first poll during the cut fails.
    with served(url, subscription_poll_s=0.2) as client:
        authorize(client, "admin")
        assert "errors" not in client.post("/graphql", json={"query": UPSERT_CHANNEL, "variables": {"input": {
            "code": "pos", "name": "POS"}}}).json()
        opened = client.post("/graphql", json={"query": OPEN_SESSION, "variables": {"input": {
            "channelCode": "pos", "sessionKey": "S-1"}}}).json()
        assert opened["data"]["openSession"]["errors"] == [], opened
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
            ws = GraphQLWs(raw)
            ws.init()
            ws.subscribe("s", SESSION_CHANGED, {"channel": "pos", "key": "S-1"})
            assert ws.next("s")["sessionChanged"]["rev"] == 0
            proxy.cut()
            failed = ws.message("s")
            assert failed["type"] == "next", failed
            assert failed["payload"] == {"data": None, **DOWN}, failed
            assert ws.message("s") == {"id": "s", "type": "complete"}


def test_sqlite_locked_past_its_busy_timeout_is_a_busy_503_and_writes_nothing(tmp_path: Path,
                                                                                sqlite_template: Path) -> None:
    # (SQLite only: PostgreSQL has row locks, no database-wide writer lock another connection could hold.)
    path = tmp_path / "omniman.db"
    shutil.copy(sqlite_template, path)
    with served(f"sqlite:///{path}", sqlite_busy_timeout_ms=100) as client:
        authorize(client, "admin")
        # Another connection (as another process would) holds SQLite's one write lock.
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            response = client.post("/graphql", json={"query": UPSERT_CHANNEL, "variables": {"input": {
                "code": "pos", "name": "POS"}}})
            body = assert_unavailable_503(response)
            assert body["errors"][0]["message"] == "The database is busy; retry shortly."
            assert body["data"] is None
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert client.post("/graphql", json={"query": CHANNELS}).json() == {"data": {"channels": []}}
        retried = client.post("/graphql", json={"query": UPSERT_CHANNEL, "variables": {"input": {
            "code": "pos", "name": "POS"}}})
        assert retried.status_code == 200 and retried.json()["data"]["upsertChannel"]["errors"] == []

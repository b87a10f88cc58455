"""Automatic persisted queries in Apollo's protocol (POST and GET, a store every process sees) and trusted-documents
mode with `omniman documents add`: what runs, what is stored, and the codes of what is refused."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient
from websockets.sync.client import connect

from omniman_gql.cli import main
from omniman_gql.models import PersistedDocument
from omniman_gql.runtime import Hub
from omniman_gql.services import documents
from omniman_gql.settings import Settings, get_settings
from schema.asgi import create_app
from tests.fixtures.app import serving
from tests.graphql import authorize, bearer, create_token_in, init_payload

QUERY = "query Channels { channels { code } }"
PRINTED = "query Channels {\n  channels {\n    code\n  }\n}"  # the same document as graphql-js prints it


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pq(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def post(client: TestClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/graphql", json=body, headers=headers)


def get(client: TestClient, extensions: dict[str, Any], **params: str) -> Any:
    return client.get("/graphql", params={"extensions": json.dumps(extensions), **params},
                      headers={"accept": "application/json"})


def codes(response: Any) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors", [])]


def stored(client: TestClient) -> int:
    hub: Hub = client.app_state["hub"]

    async def count() -> int:
        async with hub.transaction(readonly=True) as uow:
            return int((await uow.db.execute(select(func.count()).select_from(PersistedDocument))).scalar_one())

    assert client.portal is not None
    return client.portal.call(count)


def test_apollo_link_round_trip_over_post_and_get_shared_by_processes(client: TestClient,
                                                                      settings: Settings) -> None:
    missing = post(client, {"extensions": pq(QUERY)})
    assert missing.status_code == 200
    assert missing.json() == {"data": None, "errors": [{"message": "PersistedQueryNotFound",
                                                        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
    assert codes(get(client, pq(QUERY))) == ["PERSISTED_QUERY_NOT_FOUND"]  # useGETForHashedQueries
    registered = post(client, {"query": QUERY, "extensions": pq(QUERY)})
    assert registered.json() == {"data": {"channels": []}} and stored(client) == 1
    assert post(client, {"extensions": pq(QUERY), "operationName": "Channels"}).json() == {"data": {"channels": []}}
    assert get(client, pq(QUERY), operationName="Channels").json() == {"data": {"channels": []}}
    # another web process (its own memory) finds it in the shared store
    with TestClient(create_app(settings, run_directives=False)) as other:
        token = client.headers["Authorization"]
        assert post(other, {"extensions": pq(QUERY)}, authorization=token).json() == {"data": {"channels": []}}
    post(client, {"query": QUERY, "extensions": pq(QUERY)})  # stored once
    assert stored(client) == 1


def test_a_wrong_hash_or_a_bad_document_is_not_stored(client: TestClient) -> None:
    wrong = post(client, {"query": QUERY, "extensions": pq("query { other }")})
    assert wrong.json()["data"] is None and codes(wrong) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    invalid = "{ nope }"
    assert codes(post(client, {"query": invalid, "extensions": pq(invalid)})) == ["GRAPHQL_VALIDATION_FAILED"]
    broken = "{ channels { code "
    assert codes(post(client, {"query": broken, "extensions": pq(broken)})) == ["GRAPHQL_PARSE_FAILED"]
    assert stored(client) == 0
    assert codes(post(client, {"extensions": pq(invalid)})) == ["PERSISTED_QUERY_NOT_FOUND"]
    for extension, code in [({"persistedQuery": {"version": 2, "sha256Hash": sha(QUERY)}},
                             "PERSISTED_QUERY_NOT_SUPPORTED"),
                            ({"persistedQuery": {"version": 1, "sha256Hash": "XYZ"}}, "BAD_REQUEST"),
                            ({"persistedQuery": "yes"}, "PERSISTED_QUERY_NOT_SUPPORTED")]:
        refused = post(client, {"extensions": extension}, accept="application/graphql-response+json")
        assert refused.status_code == 400 and codes(refused) == [code], extension


def test_no_token_no_lookup_and_no_store(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": QUERY, "extensions": pq(QUERY)},
                           headers={"authorization": "Bearer nope"})
    assert codes(response) == ["UNAUTHENTICATED"] and stored(client) == 0


def test_persisted_queries_can_be_switched_off(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"persisted_queries": False}),
                               run_directives=False)) as client:
        authorize(client)
        refused = post(client, {"extensions": pq(QUERY)})
        assert refused.json()["errors"][0]["message"] == "PersistedQueryNotSupported"  # Apollo's link turns off
        assert codes(refused) == ["PERSISTED_QUERY_NOT_SUPPORTED"]
        assert post(client, {"query": QUERY}).json() == {"data": {"channels": []}}


@pytest.mark.anyio
async def test_concurrent_stores_of_one_document_keep_one_row(hub: Hub) -> None:
    stores = await asyncio.gather(*(documents.store_document(hub, QUERY, max_documents=10) for _ in range(8)))
    assert stores == [True] * 8
    assert await documents.find_document(hub, sha(QUERY)) == (QUERY, False)
    assert await documents.store_document(hub, "{ channels { name } }", max_documents=1) is False  # store full


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OMNIMAN_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()


def test_trusted_documents_only(settings: Settings, cli_env: None, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "channels.graphql", tmp_path / "broken.graphql"
    good.write_text(QUERY, encoding="utf-8")
    bad.write_text("query { nope }", encoding="utf-8")
    trusted = settings.model_copy(update={"trusted_documents_only": True})
    with TestClient(create_app(trusted, run_directives=False)) as client:
        authorize(client)
        assert codes(post(client, {"query": QUERY})) == ["DOCUMENT_NOT_TRUSTED"]
        assert codes(post(client, {"query": QUERY, "extensions": pq(QUERY)})) == ["DOCUMENT_NOT_TRUSTED"]
        assert codes(post(client, {"extensions": pq(QUERY)})) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert stored(client) == 0  # registration by clients is off

        assert main(["documents", "add", str(good), str(bad)]) == 1  # all or nothing
        assert "Cannot query field 'nope'" in capsys.readouterr().err and stored(client) == 0

        assert main(["documents", "add", str(good)]) == 0
        out = capsys.readouterr().out
        assert sha(QUERY) in out and sha(PRINTED) in out and "registered 1 document(s) under 2 hash(es)" in out
        for body in [{"query": QUERY}, {"query": PRINTED}, {"extensions": pq(QUERY)}, {"extensions": pq(PRINTED)},
                     {"query": QUERY, "extensions": pq(QUERY)}]:
            assert post(client, body).json() == {"data": {"channels": []}}, body
        assert codes(post(client, {"query": "{ channels { name } }"})) == ["DOCUMENT_NOT_TRUSTED"]
        assert codes(client.post("/graphql", json={"query": QUERY}, headers=bearer("nope"))) == ["UNAUTHENTICATED"]


def test_trusted_documents_only_over_websockets(settings: Settings) -> None:
    subscription = "subscription Live { orderEvents { cursor type } }"
    trusted = settings.model_copy(update={"trusted_documents_only": True})
    token = create_token_in(settings, "admin")
    with serving(create_app(trusted, run_directives=False)) as base, connect(
            base.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init", "payload": init_payload(token)}))
        assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": subscription}}))
        refused = json.loads(ws.recv(timeout=5))
        assert refused["type"] == "error" and refused["id"] == "1"
        assert refused["payload"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"

        async def register() -> None:
            hub = Hub.create(settings)
            try:
                await documents.register_trusted(hub, {sha(subscription): subscription})
            finally:
                await hub.dispose()

        asyncio.run(register())
        ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": subscription}}))
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}  # no error: it runs


def test_documents_add_reads_apollo_manifests_all_or_nothing(settings: Settings, cli_env: None, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    typed = "query Channels { channels { code __typename } }"  # as Apollo Client sends it (with __typename)
    manifest = tmp_path / "persisted-query-manifest.json"
    manifest.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": sha(typed), "body": typed, "name": "Channels", "type": "query"}]}), encoding="utf-8")
    lying = tmp_path / "lying.json"
    lying.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": sha("other"), "body": typed, "name": "Channels", "type": "query"}]}), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2]", encoding="utf-8")
    assert main(["documents", "add", str(manifest), str(lying)]) == 1
    assert main(["documents", "add", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "operations[0].id is not the SHA-256 of its body" in err and "not an Apollo persisted-query manifest" in err
    trusted = settings.model_copy(update={"trusted_documents_only": True})
    with TestClient(create_app(trusted, run_directives=False)) as client:
        authorize(client)
        assert stored(client) == 0
        assert main(["documents", "add", str(manifest)]) == 0
        assert f"{manifest}#Channels: " in capsys.readouterr().out
        assert post(client, {"extensions": pq(typed)}).json() == {"data": {"channels": []}}

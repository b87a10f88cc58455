"""Hostile input: malformed bodies and websocket messages get clear 4xx answers (never a 5xx, never a crash), errors
never show internals, and production switches (introspection, field suggestions, GraphiQL) really switch."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from strawberry.http.parse_content_type import parse_content_type

from omniman_gql.services import channels
from omniman_gql.settings import Settings
from schema.accel_strawberry.http import _plainly_json
from schema.asgi import create_app
from tests.api.operations import import_order, make_channel
from tests.fixtures.app import Api
from tests.graphql import authorize, create_token, gql, init_payload
from tests.stream.wsclient import GraphQLWs

LEAKS = re.compile(r"Traceback|File \"|site-packages|/work/|\.py\b|sqlalchemy|psycopg|aiosqlite|SELECT |INSERT |"
                   r"UPDATE |CREATE TABLE|IntegrityError|OperationalError", re.IGNORECASE)
DEEP = "[" * 50_000 + "]" * 50_000

BODIES: dict[str, tuple[bytes, str]] = {
    "a JSON string": (b'"query"', "Send a JSON object"),
    "a JSON number": (b"42", "Send a JSON object"),
    "JSON null": (b"null", "Send a JSON object"),
    "nothing": (b"", "Unable to parse request body as JSON"),
    "not JSON": (b"{query: 1", "Unable to parse request body as JSON"),
    "bad UTF-8": (b'{"query": "\xff\xfe"}', "Unable to parse request body as JSON"),
    "absurd nesting": (f'{{"query": "{{ __typename }}", "variables": {{"v": {DEEP}}}}}'.encode(),
                       "Unable to parse request body as JSON"),
    "a batch": (b'[{"query": "{ __typename }"}, {"query": "{ __typename }"}]', "Batched requests"),
    "an empty batch": (b"[]", "Batched requests"),
    "query not a string": (b'{"query": 1}', "`query` must be a string"),
    "variables not an object": (b'{"query": "{ __typename }", "variables": [1]}', "`variables` must be an object"),
    "extensions not an object": (b'{"query": "{ __typename }", "extensions": 1}', "`extensions` must be an object"),
    "no query": (b'{"variables": {}}', "No GraphQL query found"),
    "an unknown operation": (b'{"query": "query A { __typename }", "operationName": "B"}', "Unknown operation"),
    "a subscription over HTTP": (b'{"query": "subscription { orderEvents { cursor } }"}', "websockets only"),
    "a NUL in a variable": (b'{"query": "query($r: String!) { order(ref: $r) { ref } }", '
                            b'"variables": {"r": "\\u0000"}}', "NUL"),
}

DOCUMENTS = [
    "{ orders(first: 99999999999999999999) { edges { cursor } } }",
    "{ prices(skus: " + "[" * 3000 + "]" * 3000 + ") { sku } }",
    '{ order(ref: "\\u0000") { ref } }',
    '{ session(channelCode: "%s", sessionKey: "\' OR 1=1 --") { rev } }' % ("x" * 10_000),
    '{ orders(after: "djE6bm90LWEtZGF0ZXwx") { edges { cursor } } }',
    '{ orders(createdAfter: "yesterday") { edges { cursor } } }',
    "{ __typename " + "... on Query { __typename " * 200 + "}" * 200 + " }",
    "query Q { ...F } fragment F on Query { ...G } fragment G on Query { ...F }",
    'mutation { modifySession(input: {channelCode: "pos", sessionKey: "K", ops: [{addLine: {sku: "A", qty: "1e999"}}]})'
    " { errors { code } } }",
    'mutation { modifySession(input: {channelCode: "pos", sessionKey: "K", ops: [{addLine: {sku: "A", qty: "1"}, '
    'removeLine: {lineId: "L"}}]}) { errors { code } } }',
    'mutation { importOrder(input: {channelCode: "pos", externalRef: "E", items: [{sku: "A", qty: "1", '
    "unitPriceQ: 2147483647}, {sku: \"B\", qty: \"999999999\", unitPriceQ: 2147483647}]}) { errors { code } } }",
]


@pytest.mark.parametrize("name", list(BODIES))
def test_malformed_bodies_get_a_clear_400(client: TestClient, name: str) -> None:
    body, message = BODIES[name]
    response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]  # GraphQL JSON, never plain text
    assert message in error["message"] and error["extensions"]["code"] in ("BAD_REQUEST", "BAD_USER_INPUT")
    assert not LEAKS.search(response.text)
    assert gql(client, "{ __typename }") == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("name", [*BODIES, "a query"])
def test_every_body_gets_the_same_answer_on_the_lean_post_path_and_strawberrys(client: TestClient, name: str) -> None:
    # A plain `application/json` POST is read by the view itself; a quoted charset is left to Strawberry's parser.
    body = BODIES[name][0] if name in BODIES else b'{"query": "{ __typename }", "operationName": null}'
    lean = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    stock = client.post("/graphql", content=body, headers={"Content-Type": 'application/json; charset="utf-8"'})
    assert (lean.status_code, lean.headers["content-type"], lean.text) == (
        stock.status_code, stock.headers["content-type"], stock.text)


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8", " application/json ",
    "application/graphql+json, application/json", "Application/JSON", "text/plain", "", "application/json=1",
    '"application/json"', 'application/json; charset="utf-8"', "application/x-www-form-urlencoded",
])
def test_the_content_type_is_read_as_strawberry_reads_it(client: TestClient, content_type: str) -> None:
    json_for_strawberry = "application/json" in parse_content_type(content_type)[0]
    assert not _plainly_json(content_type) or json_for_strawberry  # the view's shortcut never disagrees
    response = client.post("/graphql", content=b'{"query": "{ __typename }"}', headers={"Content-Type": content_type})
    assert response.status_code == (200 if json_for_strawberry else 415), response.text
    if not json_for_strawberry:  # GraphQL over HTTP: an unsupported media type is 415, its body GraphQL JSON
        assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_hostile_documents_are_answered_without_internals(api: Api, client: TestClient, document: str) -> None:
    make_channel(api, code="pos")
    response = client.post("/graphql", json={"query": document})
    assert response.status_code in (200, 400), response.text
    assert "INTERNAL_SERVER_ERROR" not in response.text and not LEAKS.search(response.text), response.text
    assert gql(client, "{ __typename }") == {"data": {"__typename": "Query"}}


JSON_INPUTS = {
    "openSession": 'mutation($d: JSON) { openSession(input: {channelCode: "pos", data: $d}) { errors { message } } }',
    "upsertChannel": 'mutation($d: JSON) { upsertChannel(input: {code: "pos", config: $d}) { errors { message } } }',
    "modifySession": 'mutation($d: JSON) { modifySession(input: {channelCode: "pos", sessionKey: "K", ops: ['
                     '{addLine: {sku: "A", qty: "1", unitPriceQ: 1, meta: $d}}, {setData: {path: "notes", value: $d}}]}'
                     ") { errors { message } } }",
    "importOrder": 'mutation($d: JSON) { importOrder(input: {channelCode: "pos", externalRef: "E", data: $d, items: ['
                   '{sku: "A", qty: "1", unitPriceQ: 1, meta: $d}]}) { errors { message } } }',
}


@pytest.mark.parametrize("name", list(JSON_INPUTS))
def test_json_nested_a_thousand_levels_is_refused_cleanly(api: Api, client: TestClient, name: str) -> None:
    make_channel(api, code="pos")
    api.data('mutation { openSession(input: {channelCode: "pos", sessionKey: "K"}) { errors { code } } }')
    deep: object = "x"
    for _ in range(900):  # as deep as the JSON parser of the request still allows
        deep = [deep]
    result = gql(client, JSON_INPUTS[name], {"d": {"notes": deep}})
    errors = result["data"][name]["errors"]
    assert errors and all("nested deeper than 8 levels" in e["message"] for e in errors), result


def test_an_unexpected_failure_is_masked(api: Api, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError('(psycopg.errors.UndefinedTable) SELECT * FROM "channels" at /work/main/db.py line 3')

    monkeypatch.setattr(channels, "list_channels", broken)
    response = client.post("/graphql", json={"query": "{ channels { code } }"})
    assert response.status_code == 200
    assert response.json()["errors"] == [{"message": "Internal server error", "locations": [{"line": 1, "column": 3}],
                                          "path": ["channels"], "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
    assert not LEAKS.search(response.text)


@pytest.mark.parametrize("message", ['"x"', "5", "[]", '{"type": 5}', '{"type": "subscribe"}',
                                     '{"type": "subscribe", "id": "1", "payload": "x"}',
                                     '{"type": "subscribe", "id": {"a": 1}, "payload": {"query": "{ __typename }"}}',
                                     '{"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", '
                                     '"variables": 3}}', '{"type": "complete", "id": 5}', DEEP, "not json",
                                     '{"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", '
                                     '"variables": {"a": ["\\u0000"]}}}'])
def test_malformed_websocket_messages_close_with_4400(client: TestClient, message: str) -> None:
    secret = client.headers["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        raw.send_json({"type": "connection_init", "payload": init_payload(secret)})
        assert raw.receive_json()["type"] == "connection_ack"
        raw.send_text(message)
        with pytest.raises(WebSocketDisconnect) as closed:
            raw.receive_json()
        assert closed.value.code == 4400 and not LEAKS.search(closed.value.reason or "")
    assert gql(client, "{ __typename }") == {"data": {"__typename": "Query"}}


def test_directives_of_an_order_are_for_admins_only(api: Api, client: TestClient) -> None:
    channel = make_channel(api)
    ref = import_order(api, channel)["ref"]
    query = "query($ref: String!) { order(ref: $ref) { ref directives { topic } } }"
    assert gql(client, query, {"ref": ref})["data"]["order"]["ref"] == ref
    for role in ("staff", "client", "display"):
        result = gql(client, query, {"ref": ref}, token=create_token(client, role, [channel] if role in (
            "client", "display") else []))
        assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"], result


@pytest.fixture
def production(settings: Settings) -> Iterator[TestClient]:
    locked = settings.model_copy(update={"introspection": False, "graphiql": False})
    with TestClient(create_app(locked)) as client:
        authorize(client)
        yield client


def test_introspection_and_graphiql_can_be_switched_off(production: TestClient, client: TestClient) -> None:
    introspect = "{ __schema { queryType { name } } }"
    assert gql(client, introspect) == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    refused = gql(production, introspect)
    assert refused["data"] is None and "introspection" in refused["errors"][0]["message"].lower()
    assert "graphiql" in client.get("/graphql", headers={"Accept": "text/html"}).text.lower()
    page = production.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code in (400, 404) and "graphiql" not in page.text.lower()


@pytest.mark.parametrize("document", ["{ chanels { code } }", "{ orders(frist: 1) { edges { cursor } } }",
                                      "{ sessions(state: OPN) { edges { cursor } } }",
                                      "query($s: SessionStat) { sessions(state: $s) { edges { cursor } } }",
                                      'mutation { openSession(input: {chanelCode: "x"}) { errors { code } } }'])
def test_field_suggestions_only_while_introspection_is_on(production: TestClient, client: TestClient,
                                                          document: str) -> None:
    assert "Did you mean" in str(gql(client, document)["errors"])
    hidden = str(gql(production, document)["errors"])
    assert "Did you mean" not in hidden and "errors" in gql(production, document)


def test_an_unexpected_failure_in_a_subscription_is_masked(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import schema.subscriptions

    async def broken(*args: object, **kwargs: object) -> AsyncIterator[object]:
        raise RuntimeError("SELECT * FROM sessions at /work/main/omniman_gql/feeds.py line 9")
        yield  # an async generator, as the real feed

    monkeypatch.setattr(schema.subscriptions, "session_feed", broken)
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        ws = GraphQLWs(raw)
        ws.init()
        ws.subscribe("1", 'subscription { sessionChanged(channelCode: "pos", sessionKey: "K") { rev } }')
        message = ws.message("1")
    assert message["payload"]["errors"] == [{"message": "Internal server error",
                                             "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
    assert not LEAKS.search(str(message))

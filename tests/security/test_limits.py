"""Every bound on input: just under passes, just over is refused with a message naming the limit, and the server goes
on serving. The limits are set low here (each is a setting) so that the documents stay small."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from graphql.language import Lexer, Source, TokenKind
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from omniman_gql.domain.limits import json_depth
from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.api.operations import make_channel
from tests.fixtures.app import Api
from tests.graphql import authorize, gql, init_payload
from tests.stream.wsclient import GraphQLWs

LIMITS = {"max_query_depth": 5, "max_aliases": 3, "max_query_tokens": 100, "max_body_bytes": 4096,
          "max_ops_per_modify": 3, "max_lines_per_session": 4, "max_string_length": 16, "max_json_bytes": 256,
          "max_json_depth": 3, "max_page_size": 5, "max_subscriptions_per_connection": 2,
          "connection_init_timeout_s": 0.5}
PING = "query { channels { code } }"
OPEN = """mutation($key: String, $data: JSON) { openSession(input: {channelCode: "pos", sessionKey: $key, data: $data})
  { session { rev } errors { code message field } } }"""
MODIFY = """mutation($key: String!, $ops: [SessionOpInput!]!) { modifySession(input: {channelCode: "pos",
  sessionKey: $key, ops: $ops}) { session { rev } errors { code message field } } }"""
ORDERS = "query($first: Int) { orders(first: $first) { edges { cursor } } }"


@pytest.fixture
def tight(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update=LIMITS))) as client:
        authorize(client, name="admin")
        make_channel(Api(client), code="pos")
        yield client


def serving(client: TestClient) -> None:
    """The server still answers a normal request."""
    assert gql(client, PING) == {"data": {"channels": [{"code": "pos"}]}}


def refused(result: dict[str, Any], *words: str) -> None:
    """A top-level error whose message says what the limit is."""
    assert "errors" in result, result
    message = " ".join(e["message"] for e in result["errors"])
    assert all(w in message for w in words), message


def payload_refused(result: dict[str, Any], name: str, *words: str) -> dict[str, Any]:
    assert "errors" not in result, result
    errors = result["data"][name]["errors"]
    assert errors and all(w in errors[0]["message"] for w in words), errors
    return errors[0]  # type: ignore[no-any-return]


def ops(n: int) -> list[dict[str, Any]]:
    return [{"addLine": {"sku": f"S{i}", "qty": "1", "unitPriceQ": 100}} for i in range(n)]


def opened(client: TestClient, key: str) -> None:
    assert gql(client, OPEN, {"key": key})["data"]["openSession"]["errors"] == []


def test_query_depth(tight: TestClient) -> None:
    deep = "query { sessions(first: 5) { edges { node { order { channel { code } } } } } }"  # 5 below the root
    assert "errors" not in gql(tight, deep)
    deeper = "query { sessions(first: 5) { edges { node { order { fulfillments { items { lineId } } } } } } }"
    refused(gql(tight, deeper), "exceeds maximum operation depth of 5")
    serving(tight)


def test_aliases(tight: TestClient) -> None:
    assert "errors" not in gql(tight, "query { a: channels { code } b: channels { code } c: channels { code } }")
    refused(gql(tight, "query { a: channels { code } b: channels { code } c: channels { code } d: __typename }"),
            "4 aliases found. Allowed: 3")
    serving(tight)


def tokens(document: str) -> int:
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def test_tokens_per_document(tight: TestClient) -> None:
    base = "query { channels { code } }"
    fill = 100 - tokens(base)
    just_under = "query { channels { code } " + "__typename " * fill + "}"
    assert tokens(just_under) == 100 and "errors" not in gql(tight, just_under)
    over = "query { channels { code } " + "__typename " * (fill + 1) + "}"
    refused(gql(tight, over), "more than 100 tokens")
    serving(tight)


def test_request_body_size(tight: TestClient) -> None:
    def body(size: int) -> bytes:
        head = json.dumps({"query": PING, "variables": {"pad": ""}})
        return json.dumps({"query": PING, "variables": {"pad": "x" * (size - len(head))}}).encode()

    assert len(body(4096)) == 4096
    ok = tight.post("/graphql", content=body(4096), headers={"Content-Type": "application/json"})
    assert ok.status_code == 200 and "errors" not in ok.json(), ok.text
    big = tight.post("/graphql", content=body(4097), headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and "larger than 4096 bytes" in big.json()["errors"][0]["message"]
    serving(tight)


def test_websocket_message_size(tight: TestClient) -> None:
    with tight.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        raw.send_json({"type": "connection_init", "payload": {**init_payload(_secret(tight)), "pad": "x" * 3000}})
        assert raw.receive_json()["type"] == "connection_ack"
        raw.send_text(json.dumps({"type": "ping", "payload": {"pad": "x" * 5000}}))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                raw.receive_json()
        assert closed.value.code == 1009 and "4096 bytes" in closed.value.reason
    serving(tight)


def _secret(client: TestClient) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


def test_ops_per_modify(tight: TestClient) -> None:
    opened(tight, "K-ops")
    assert gql(tight, MODIFY, {"key": "K-ops", "ops": ops(3)})["data"]["modifySession"]["errors"] == []
    error = payload_refused(gql(tight, MODIFY, {"key": "K-ops", "ops": ops(4)}), "modifySession", "At most 3 ops")
    assert error["code"] == "invalid_input" and error["field"] == ["ops"]
    serving(tight)


def test_lines_per_session(tight: TestClient) -> None:
    opened(tight, "K-lines")
    assert gql(tight, MODIFY, {"key": "K-lines", "ops": ops(3)})["data"]["modifySession"]["errors"] == []
    one_more = [{"addLine": {"sku": "S9", "qty": "1", "unitPriceQ": 1}}]
    assert gql(tight, MODIFY, {"key": "K-lines", "ops": one_more})["data"]["modifySession"]["errors"] == []
    payload_refused(gql(tight, MODIFY, {"key": "K-lines", "ops": one_more}), "modifySession", "at most 4 lines")
    serving(tight)


@pytest.mark.parametrize("what", ["sku", "session key", "channel name", "token name"])
def test_string_lengths(tight: TestClient, what: str) -> None:
    def attempt(value: str) -> dict[str, Any]:
        if what == "sku":
            line = {"sku": value, "qty": "1", "unitPriceQ": 1}
            return gql(tight, MODIFY, {"key": "K-str", "ops": [{"addLine": line}]})["data"]["modifySession"]
        if what == "session key":
            return gql(tight, OPEN, {"key": value})["data"]["openSession"]
        if what == "channel name":
            return gql(tight, 'mutation($n: String) { upsertChannel(input: {code: "pos", name: $n}) '
                              "{ errors { code message field } } }", {"n": value})["data"]["upsertChannel"]
        return gql(tight, "mutation($n: String!) { createToken(input: {name: $n, role: STAFF}) "
                          "{ errors { code message field } } }", {"n": value})["data"]["createToken"]

    opened(tight, "K-str")
    assert attempt("x" * 16)["errors"] == []
    errors = attempt("y" * 17)["errors"]
    assert errors and "16" in errors[0]["message"], errors
    serving(tight)


def nested(depth: int) -> dict[str, Any]:
    doc: Any = "x"
    for _ in range(depth):
        doc = {"k": doc}
    return {"notes": doc["k"]} if depth > 1 else {"notes": "x"}


@pytest.mark.parametrize("where", ["data", "meta"])
def test_json_size_and_depth(tight: TestClient, where: str) -> None:
    def attempt(doc: dict[str, Any], key: str) -> dict[str, Any]:
        if where == "data":
            return gql(tight, OPEN, {"key": key, "data": doc})["data"]["openSession"]
        opened(tight, key)
        return gql(tight, MODIFY, {"key": key, "ops": [{"addLine": {"sku": "S", "qty": "1", "unitPriceQ": 1,
                                                                   "meta": doc}}]})["data"]["modifySession"]

    size = 256 - len(json.dumps({"notes": ""}, separators=(",", ":")))
    assert attempt({"notes": "x" * size}, "K-size1")["errors"] == []
    errors = attempt({"notes": "x" * (size + 1)}, "K-size2")["errors"]
    assert errors and "larger than 256 bytes" in errors[0]["message"], errors
    assert json_depth(nested(3)) == 3 and attempt(nested(3), "K-depth1")["errors"] == []
    errors = attempt(nested(4), "K-depth2")["errors"]
    assert errors and "deeper than 3 levels" in errors[0]["message"], errors
    serving(tight)


def test_page_size(tight: TestClient) -> None:
    assert "errors" not in gql(tight, ORDERS, {"first": 5})
    refused(gql(tight, ORDERS, {"first": 6}), "`first` must be between 1 and 5")
    refused(gql(tight, ORDERS, {"first": 0}), "`first` must be between 1 and 5")
    serving(tight)


def test_subscriptions_per_connection(tight: TestClient) -> None:
    subscription = "subscription { orderEvents(channelCodes: [\"pos\"]) { cursor } }"
    with tight.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        ws = GraphQLWs(raw)
        ws.init()
        ws.subscribe("1", subscription)
        ws.subscribe("2", subscription)
        ws.subscribe("3", subscription)
        message = ws.message("3")
        assert message["type"] == "error" and "at most 2 operations" in message["payload"][0]["message"]
        ws.complete("1")
        ws.subscribe("4", subscription)  # room again, and the connection is still fine
        ws.ws.send_json({"type": "ping"})
        assert ws.ws.receive_json()["type"] == "pong"
    serving(tight)


def test_connection_init_timeout(tight: TestClient) -> None:
    with tight.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        with pytest.raises(WebSocketDisconnect) as closed:
            raw.receive_json()
        assert closed.value.code == 4408
    serving(tight)


def test_no_batching(tight: TestClient) -> None:
    response = tight.post("/graphql", json=[{"query": PING}, {"query": PING}])
    assert response.status_code == 400 and "Batched requests" in response.text
    serving(tight)


def test_catalog_and_stream_lists_are_bounded(tight: TestClient) -> None:
    assert "errors" not in gql(tight, "query($s: [String!]) { prices(skus: $s) { sku } }", {"s": ["A"] * 1000})
    refused(gql(tight, "query($s: [String!]) { prices(skus: $s) { sku } }", {"s": ["A"] * 1001}), "At most 1000")
    serving(tight)

"""Websockets: the token of `connection_init` (4401 without a valid one), nothing before it, the init timeout,
subscriptions by role and channel, and sockets of a revoked token closed promptly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from omniman_gql.services import auth
from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.api.operations import import_order, make_channel, open_with_lines
from tests.factories import make_channel as new_channel
from tests.fixtures.app import Api
from tests.graphql import authorize, create_token, init_payload, revoke_silently
from tests.stream.wsclient import ORDER_EVENTS, SESSION_CHANGED, GraphQLWs, wait_for_watchers

PROTOCOL = ["graphql-transport-ws"]
ORDER_REFS = """subscription($channels: [String!]) { orderEvents(channelCodes: $channels) { order { ref } } }"""


@pytest.fixture
def ws_settings(settings: Settings) -> Settings:
    # A long recheck: whatever closes a revoked token's socket sooner came through the pub/sub.
    return settings.model_copy(update={"connection_init_timeout_s": 0.5, "token_recheck_s": 60.0})


@pytest.fixture
def ws_client(ws_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(ws_settings)) as client:
        authorize(client)
        yield client


def closed_with(raw: WebSocketTestSession) -> int:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            raw.receive_json()
    return closed.value.code


def connect(client: TestClient, payload: dict[str, Any]) -> WebSocketTestSession:
    raw = client.websocket_connect("/graphql", subprotocols=PROTOCOL)
    raw.__enter__()
    raw.send_json({"type": "connection_init", "payload": payload})
    return raw


@pytest.mark.parametrize("payload", [{}, {"Authorization": "Bearer omn_nope"}, {"Authorization": "omn_nope"},
                                     {"Authorization": 42}, {"token": "whatever"}])
def test_init_without_a_valid_token_is_closed_4401(ws_client: TestClient, payload: dict[str, Any]) -> None:
    with ws_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
        raw.send_json({"type": "connection_init", "payload": payload})
        assert closed_with(raw) == 4401


@pytest.mark.parametrize("key", ["Authorization", "authorization", "AUTHORIZATION"])
def test_init_key_is_case_insensitive(ws_client: TestClient, key: str) -> None:
    secret = create_token(ws_client, "display", [make_channel(Api(ws_client))])
    with ws_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
        raw.send_json({"type": "connection_init", "payload": {key: f"Bearer {secret}"}})
        assert raw.receive_json() == {"type": "connection_ack"}


def test_subscribe_before_init_is_refused(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
        raw.send_json({"id": "1", "type": "subscribe", "payload": {"query": ORDER_EVENTS}})
        assert closed_with(raw) == 4401


def test_a_socket_that_never_inits_is_closed_after_the_timeout(ws_client: TestClient) -> None:
    started = time.monotonic()
    with ws_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
        assert closed_with(raw) == 4408
    assert 0.4 < time.monotonic() - started < 5


def test_legacy_protocol_needs_the_token_too(ws_settings: Settings) -> None:
    with TestClient(create_app(ws_settings.model_copy(update={"legacy_graphql_ws": True}))) as client:
        with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as raw:
            raw.send_json({"type": "connection_init", "payload": {}})
            assert closed_with(raw) == 4401
        with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as raw:
            raw.send_json({"id": "1", "type": "start", "payload": {"query": ORDER_EVENTS}})
            assert closed_with(raw) == 4401
        secret = create_token(client, "display", [Api(client).run(new_channel, Api(client).hub, "pos")])
        with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as raw:
            raw.send_json({"type": "connection_init", "payload": init_payload(secret)})
            assert raw.receive_json()["type"] == "connection_ack"


def test_operations_over_the_socket_keep_the_tokens_rights(ws_client: TestClient) -> None:
    api = Api(ws_client)
    channel = make_channel(api)
    kitchen = create_token(ws_client, "display", [channel], name="kitchen")
    raw = connect(ws_client, init_payload(kitchen))
    ws = GraphQLWs(raw)
    assert raw.receive_json()["type"] == "connection_ack"
    ws.subscribe("m", 'mutation($c: String!) { openSession(input: {channelCode: $c}) { errors { code } } }',
                 {"c": channel})
    message = ws.message("m")
    assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["FORBIDDEN"], message
    raw.__exit__(None, None, None)


def test_order_events_only_show_the_tokens_channels(ws_client: TestClient) -> None:
    api = Api(ws_client)
    mine, theirs = make_channel(api), make_channel(api)
    kitchen = create_token(ws_client, "display", [mine], name="kitchen")
    raw = connect(ws_client, init_payload(kitchen))
    assert raw.receive_json()["type"] == "connection_ack"
    ws = GraphQLWs(raw)
    # Asking for both channels, or for every channel, gives the token's channel only.
    ws.subscribe("both", ORDER_REFS, {"channels": [mine, theirs]})
    ws.subscribe("all", ORDER_REFS, {"channels": None})
    wait_for_watchers(ws_client, mine, 2)
    hidden = import_order(api, theirs)["ref"]
    shown = import_order(api, mine)["ref"]
    assert ws.next("both")["orderEvents"]["order"]["ref"] == shown
    assert ws.next("all")["orderEvents"]["order"]["ref"] == shown
    assert hidden != shown
    # A channel outside the scope is answered as one that does not exist.
    answers = []
    for op_id, channel in (("theirs", theirs), ("nowhere", "nowhere")):
        ws.subscribe(op_id, ORDER_REFS, {"channels": [channel]})
        message = ws.message(op_id)
        answers.append((message["type"], message["payload"]["errors"][0]["message"].replace(channel, "<c>"),
                        message["payload"]["errors"][0]["extensions"]))
    assert answers[0] == answers[1] and answers[0][2] == {"code": "NOT_FOUND"}, answers
    raw.__exit__(None, None, None)


@pytest.mark.parametrize("role", ["admin", "staff", "client", "display"])
def test_session_changed_by_role_and_channel(ws_client: TestClient, role: str) -> None:
    api = Api(ws_client)
    mine, theirs = make_channel(api), make_channel(api)
    scoped = role in ("client", "display")
    secret = create_token(ws_client, role, [mine] if scoped else [])
    staff = create_token(ws_client, "staff")
    for channel in (mine, theirs):
        key, _ = open_with_lines(api, channel, lines=[])
        raw = connect(ws_client, init_payload(secret))
        assert raw.receive_json()["type"] == "connection_ack"
        ws = GraphQLWs(raw)
        ws.subscribe("s", SESSION_CHANGED, {"channel": channel, "key": key})
        message = ws.message("s")
        raw.__exit__(None, None, None)
        if channel == mine or not scoped:
            assert message["type"] == "next" and message["payload"]["data"]["sessionChanged"]["rev"] == 0, message
            continue
        # hidden: the same answer as a session that does not exist, given to a token that sees every channel
        raw = connect(ws_client, init_payload(staff))
        assert raw.receive_json()["type"] == "connection_ack"
        GraphQLWs(raw).subscribe("s", SESSION_CHANGED, {"channel": "nowhere", "key": key})
        missing = GraphQLWs(raw).message("s")
        raw.__exit__(None, None, None)
        assert message["payload"]["errors"][0]["message"].replace(channel, "<c>") == \
            missing["payload"]["errors"][0]["message"].replace("nowhere", "<c>")
        assert message["payload"]["errors"][0]["extensions"] == missing["payload"]["errors"][0]["extensions"] == {
            "code": "NOT_FOUND", "field": ["sessionKey"]}


def revoke_via_api(client: TestClient, secret: str) -> None:
    api = Api(client)
    token_id = next(t["id"] for t in api.data("query { tokens { id name } }")["tokens"] if t["name"] == "doomed")
    assert api.data("mutation($id: ID!) { revokeToken(id: $id) { errors { code } } }",
                    {"id": token_id})["revokeToken"]["errors"] == []


@pytest.mark.parametrize("pubsub", ["inprocess", "redis"])
def test_revoking_a_token_closes_its_open_sockets_at_once(ws_settings: Settings, request: pytest.FixtureRequest,
                                                         pubsub: str) -> None:
    settings = ws_settings
    if pubsub == "redis":
        settings = request.getfixturevalue("stream_settings").model_copy(update={"token_recheck_s": 60.0})
    with TestClient(create_app(settings)) as client:
        authorize(client)
        channel = make_channel(Api(client))
        doomed = create_token(client, "display", [channel], name="doomed")
        other = create_token(client, "display", [channel], name="other")
        sockets = []
        for secret in (doomed, doomed, other):
            raw = connect(client, init_payload(secret))
            assert raw.receive_json()["type"] == "connection_ack"
            GraphQLWs(raw).subscribe("1", ORDER_EVENTS, {"channels": [channel]})
            sockets.append(raw)
        wait_for_watchers(client, channel, 3)
        started = time.monotonic()
        revoke_via_api(client, doomed)
        assert [closed_with(raw) for raw in sockets[:2]] == [4401, 4401]
        assert time.monotonic() - started < 2, "closed by the revocation message, not by the periodic recheck"
        # the other token's socket still works
        ref = import_order(Api(client), channel)["ref"]
        assert GraphQLWs(sockets[2]).next("1")["orderEvents"]["order"]["ref"] == ref
        for raw in sockets:
            raw.__exit__(None, None, None)


def test_a_revocation_nobody_announced_is_found_by_the_recheck(ws_settings: Settings) -> None:
    with TestClient(create_app(ws_settings.model_copy(update={"token_recheck_s": 0.3}))) as client:
        authorize(client)
        row, secret = Api(client).run(auth.create_token, Api(client).hub, name="doomed", role="display",
                                      channels=[Api(client).run(new_channel, Api(client).hub, "pos")])
        raw = connect(client, init_payload(secret))
        assert raw.receive_json()["type"] == "connection_ack"
        started = time.monotonic()
        Api(client).run(revoke_silently, ws_settings, row.id)
        assert closed_with(raw) == 4401
        assert time.monotonic() - started < 3
        raw.__exit__(None, None, None)


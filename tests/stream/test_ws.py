"""Subscriptions through a real websocket (TestClient with its lifespan) and Redis pub/sub, on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.api.operations import (
    ADD_ORDER_EVENT,
    MODIFY_SESSION,
    TRANSITION_ORDER,
    commit,
    make_channel,
    ok,
    open_with_lines,
)
from tests.fixtures.app import Api
from tests.fixtures.stream import redis_subscriptions, wait_until
from tests.graphql import authorize, create_token, init_payload
from tests.stream.wsclient import (
    ORDER_EVENTS,
    SESSION_CHANGED,
    GraphQLWs,
    live_of,
    wait_for_no_feeds,
    wait_for_watchers,
)

PROTOCOL = ["graphql-transport-ws"]


@pytest.fixture
def stream_client(stream_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(stream_settings)) as client:
        authorize(client)
        yield client


def transition(api: Api, ref: str, status: str) -> None:
    ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": status}})


def note(api: Api, ref: str, name: str) -> None:
    ok(api, ADD_ORDER_EVENT, "addOrderEvent", {"input": {"ref": ref, "type": f"custom.{name}", "payload": {}}})


def new_order(api: Api, channel: str) -> str:
    key, _ = open_with_lines(api, channel)
    return str(commit(api, channel, key)["result"]["orderRef"])


def test_ws_order_events_arrive_live_and_filters_hold(
    stream_client: TestClient, redis_client: redis.Redis, namespace: str
) -> None:
    api = Api(stream_client)
    channel, other = make_channel(api), make_channel(api)
    with stream_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
        ws = GraphQLWs(raw)
        ws.init()
        ws.subscribe("all", ORDER_EVENTS, {"channels": [channel]})
        ws.subscribe("confirmed", ORDER_EVENTS, {"channels": [channel], "statuses": ["confirmed"]})
        wait_for_watchers(stream_client, channel, 2)
        assert redis_client.pubsub_numsub(f"{namespace}:order-events:{channel}")[0][1] == 1  # one for both
        new_order(api, other)  # another channel: never sent
        ref = new_order(api, channel)
        created = ws.next("all")["orderEvents"]
        assert {k: created[k] for k in ("type", "event")} == {
            "type": "created", "event": {"type": "created", "payload": created["event"]["payload"]}}
        assert created["order"] == {"ref": ref, "status": "new", "channel": {"code": channel},
                                    "items": [{"sku": "COFFEE", "qty": "2"}, {"sku": "CROISSANT", "qty": "1"}]}
        transition(api, ref, "confirmed")
        changed = ws.next("all")["orderEvents"]
        assert (changed["type"], changed["event"]["payload"], changed["order"]["status"]) == (
            "status_changed", {"old_status": "new", "new_status": "confirmed"}, "confirmed")
        only_confirmed = ws.next("confirmed")["orderEvents"]  # `created` (status new) was filtered out
        assert (only_confirmed["type"], only_confirmed["order"]["ref"]) == ("status_changed", ref)
        assert only_confirmed["cursor"] == changed["cursor"]
        ws.complete("all")
        ws.complete("confirmed")
        wait_for_no_feeds(stream_client)
    wait_until(lambda: redis_subscriptions(redis_client, namespace)[0] == 0, what="Redis NUMSUB 0")


def test_ws_resume_with_the_last_cursor_gets_exactly_the_missed_events(stream_client: TestClient) -> None:
    api = Api(stream_client)
    channel = make_channel(api)
    with stream_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
        ws = GraphQLWs(raw)
        ws.init()
        ws.subscribe("1", ORDER_EVENTS, {"channels": [channel]})
        wait_for_watchers(stream_client, channel)
        first = new_order(api, channel)
        transition(api, first, "confirmed")
        note(api, first, "one")
        got = [ws.next("1")["orderEvents"] for _ in range(3)]
        assert [m["type"] for m in got] == ["created", "status_changed", "custom.one"]
    # The connection is gone (no `complete`): five more events happen meanwhile.
    wait_for_no_feeds(stream_client)
    transition(api, first, "processing")
    note(api, first, "two")
    second = new_order(api, channel)
    note(api, second, "three")
    transition(api, second, "cancelled")
    with stream_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
        ws = GraphQLWs(raw)
        ws.init()
        ws.subscribe("2", ORDER_EVENTS, {"channels": [channel], "after": got[-1]["cursor"]})
        missed = [ws.next("2")["orderEvents"] for _ in range(5)]
        assert [(m["order"]["ref"], m["type"]) for m in missed] == [
            (first, "status_changed"), (first, "custom.two"), (second, "created"), (second, "custom.three"),
            (second, "status_changed")]
        note(api, first, "after")  # live again, and nothing was sent twice before it
        assert ws.next("2")["orderEvents"]["type"] == "custom.after"


def test_ws_session_changed_sends_now_then_changes_then_completes(stream_client: TestClient) -> None:
    api = Api(stream_client)
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel, lines=[])
    with stream_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
        ws = GraphQLWs(raw)
        ws.init()
        ws.subscribe("s", SESSION_CHANGED, {"channel": channel, "key": key})
        assert ws.next("s")["sessionChanged"] == {"rev": 0, "state": "OPEN", "itemsCount": 0, "order": None}
        ok(api, MODIFY_SESSION, "modifySession", {"input": {"channelCode": channel, "sessionKey": key, "ops": [
            {"addLine": {"sku": "TEA", "qty": "1", "unitPriceQ": 300}}]}})
        assert ws.next("s")["sessionChanged"] == {"rev": 1, "state": "OPEN", "itemsCount": 1, "order": None}
        ref = commit(api, channel, key)["result"]["orderRef"]
        assert ws.next("s")["sessionChanged"] == {"rev": 1, "state": "COMMITTED", "itemsCount": 1,
                                                  "order": {"ref": ref}}
        assert ws.message("s")["type"] == "complete"
    wait_for_no_feeds(stream_client)


def test_ws_bad_input_is_a_clear_error(stream_client: TestClient) -> None:
    api = Api(stream_client)
    channel = make_channel(api)
    with stream_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
        ws = GraphQLWs(raw)
        ws.init()
        ws.subscribe("bad", ORDER_EVENTS, {"channels": [channel], "after": "garbage"})
        message = ws.message("bad")
        assert message["type"] == "next"
        [error] = message["payload"]["errors"]
        assert error["extensions"] == {"code": "INVALID_INPUT", "field": ["after"]}
        assert ws.message("bad")["type"] == "complete"
        ws.subscribe("nope", SESSION_CHANGED, {"channel": channel, "key": "NOPE"})
        [error] = ws.message("nope")["payload"]["errors"]
        assert error["extensions"]["code"] == "NOT_FOUND"


def test_ws_limits_connection_init_time_and_subscriptions_per_connection(stream_settings: Settings) -> None:
    settings = stream_settings.model_copy(update={"connection_init_timeout_s": 0.2,
                                                  "max_subscriptions_per_connection": 1})
    with TestClient(create_app(settings)) as client:
        authorize(client)
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
            with pytest.raises(WebSocketDisconnect) as closed:
                raw.receive_json()  # no connection_init: closed after the timeout
            assert closed.value.code == 4408
        channel = make_channel(Api(client))
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw:
            ws = GraphQLWs(raw)
            ws.init()
            ws.subscribe("1", ORDER_EVENTS, {"channels": [channel]})
            ws.subscribe("2", ORDER_EVENTS, {"channels": [channel]})
            message = ws.message("2")
            assert message["type"] == "error" and "limit" in message["payload"][0]["message"]


def test_ws_legacy_graphql_ws_only_behind_its_setting(stream_settings: Settings) -> None:
    with TestClient(create_app(stream_settings)) as client, pytest.raises(WebSocketDisconnect), \
            client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as raw:
        raw.receive_json()
    legacy = stream_settings.model_copy(update={"legacy_graphql_ws": True, "connection_init_timeout_s": 0.5})
    with TestClient(create_app(legacy)) as client:
        authorize(client)
        api = Api(client)
        channel = make_channel(api)
        with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as raw:
            raw.send_json({"type": "connection_init", "payload": {"authorization": client.headers["Authorization"]}})
            assert raw.receive_json()["type"] == "connection_ack"
            raw.send_json({"id": "1", "type": "start", "payload": {"query": ORDER_EVENTS,
                                                                  "variables": {"channels": [channel]}}})
            wait_for_watchers(client, channel)
            ref = new_order(api, channel)
            message = raw.receive_json()
            while message["type"] == "ka":
                message = raw.receive_json()
            assert (message["type"], message["payload"]["data"]["orderEvents"]["order"]["ref"]) == ("data", ref)
        with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as raw:
            with pytest.raises(WebSocketDisconnect) as closed:
                raw.receive_json()  # no connection_init: closed after the same timeout
            assert closed.value.code == 4408


def test_ws_50_subscribers_receive_an_event_and_an_abrupt_close_leaves_nothing(
    stream_client: TestClient, redis_client: redis.Redis, namespace: str
) -> None:
    api = Api(stream_client)
    channel = make_channel(api)
    sockets = [stream_client.websocket_connect("/graphql", subprotocols=PROTOCOL) for _ in range(50)]
    clients = []
    for raw in sockets:
        ws = GraphQLWs(raw.__enter__())
        ws.init()
        ws.subscribe("1", ORDER_EVENTS, {"channels": [channel]})
        clients.append(ws)
    wait_for_watchers(stream_client, channel, 50)
    ref = new_order(api, channel)
    assert {ws.next("1")["orderEvents"]["order"]["ref"] for ws in clients} == {ref}
    for raw in sockets:  # no `complete`: the sockets just go away
        raw.__exit__(None, None, None)
    wait_for_no_feeds(stream_client)
    wait_until(lambda: redis_subscriptions(redis_client, namespace)[0] == 0, what="Redis NUMSUB 0")


REFS_ONLY = """subscription($channels: [String!]) { orderEvents(channelCodes: $channels) { cursor order { ref } } }"""


@pytest.mark.parametrize("accelerate", [True, False])
def test_ws_direct_delivery_keeps_each_selection_scope_and_id(stream_settings: Settings, accelerate: bool) -> None:
    with TestClient(create_app(stream_settings.model_copy(update={"accelerate": accelerate}))) as stream_client:
        authorize(stream_client)
        _direct_delivery_keeps_each_selection_scope_and_id(stream_client, accelerate)


def _direct_delivery_keeps_each_selection_scope_and_id(stream_client: TestClient, accelerate: bool) -> None:
    api = Api(stream_client)
    channel = make_channel(api)
    display = create_token(stream_client, "display", [channel], name="kitchen")
    with stream_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw, \
            stream_client.websocket_connect("/graphql", subprotocols=PROTOCOL) as raw_display:
        ws, kitchen = GraphQLWs(raw), GraphQLWs(raw_display)
        ws.init()
        kitchen.init(init_payload(display))
        # Two selections of one channel on one socket, every channel on it too, and a scoped token's display.
        ws.subscribe("full", ORDER_EVENTS, {"channels": [channel]})
        ws.subscribe("refs", REFS_ONLY, {"channels": [channel]})
        ws.subscribe("every", REFS_ONLY, {"channels": None})
        kitchen.subscribe("full", ORDER_EVENTS, {"channels": None})  # the token's one channel
        wait_for_watchers(stream_client, channel, 3)
        wait_for_watchers(stream_client, None, 1)
        ref = new_order(api, channel)
        full, refs, every = (ws.next(op_id)["orderEvents"] for op_id in ("full", "refs", "every"))
        scoped = kitchen.next("full")["orderEvents"]
        assert set(full) == {"cursor", "type", "event", "order"} and full["order"]["ref"] == ref
        assert refs == {"cursor": full["cursor"], "order": {"ref": ref}}
        assert every["order"] == {"ref": ref}  # another feed (every channel): a cursor of its own
        assert scoped == full
        tails = live_of(stream_client).tails
        # Accelerated, no subscriber's own task sent them; otherwise each one's own pipeline did.
        assert (tails.get(channel).delivered, tails.get(None).delivered) == (  # type: ignore[union-attr]
            (3, 1) if accelerate else (0, 0))
        # Completing one leaves the others live, on the same socket.
        ws.complete("full")
        transition(api, ref, "confirmed")
        assert ws.next("refs")["orderEvents"]["order"] == {"ref": ref}
        assert kitchen.next("full")["orderEvents"]["order"]["status"] == "confirmed"
        ws.complete("refs")
        ws.complete("every")
        kitchen.complete("full")
        wait_for_no_feeds(stream_client)

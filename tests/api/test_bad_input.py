"""Bad input is the client's mistake, never an internal error: lone surrogates in any string variable and cursors
or times out of range answer a top-level BAD_USER_INPUT, with no traceback in the log and nothing written."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from omniman_gql.domain.limits import MAX_INT_ROW_ID, MAX_ROW_ID
from omniman_gql.errors import OmnimanError
from omniman_gql.live.eventlog import CURSOR_PREFIX as EVENT_CURSOR_PREFIX
from omniman_gql.live.eventlog import Position
from schema.text_input import SURROGATE_MESSAGE, contains_lone_surrogate
from tests.api.operations import make_channel
from tests.fixtures.app import Api
from tests.stream.wsclient import GraphQLWs

OPEN = """mutation Open($channel: String!, $key: String!, $data: JSON) {
  openSession(input: {channelCode: $channel, sessionKey: $key, data: $data}) {
    session { sessionKey } errors { code } } }"""
SESSION = "query Session($channel: String!, $key: String!) { session(channelCode: $channel, sessionKey: $key) { rev } }"
SESSION_CHANGED = """subscription Changed($channel: String!, $key: String!) {
  sessionChanged(channelCode: $channel, sessionKey: $key) { rev } }"""
ORDER = "query Order($ref: String!) { order(ref: $ref) { ref } }"
LISTS = {
    "orders": "query Orders($after: String) { orders(after: $after) { edges { cursor } } }",
    "sessions": "query Sessions($after: String) { sessions(after: $after) { edges { cursor } } }",
    "directives": "query Directives($after: String) { directives(after: $after) { edges { cursor } } }",
}
ORDERS_SINCE = "query Since($at: DateTime) { orders(createdAfter: $at) { edges { cursor } } }"
LONE = "\ud800"  # what `"\ud800"` in a JSON body decodes to


def post(client: TestClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """POST with the JSON a client library writes (the surrogate as an escape: UTF-8 cannot hold it raw)."""
    response = client.post("/graphql", content=json.dumps({"query": query, "variables": variables}).encode(),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_bad_user_input(result: dict[str, Any], says: str) -> None:
    assert len(result["errors"]) == 1, result
    assert result["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert says in result["errors"][0]["message"]


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert logged == [], [r.getMessage() for r in logged]


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(("query", "variables"), [
    (OPEN, {"key": f"K-{LONE}"}),
    (OPEN, {"key": "K", "data": {"notes": [f"a{LONE}"]}}),
    (OPEN, {"key": "K", "data": {f"notes{LONE}": "x"}}),  # a key of a JSON value
    (SESSION, {"key": LONE}),
    (ORDER, {"ref": "\udfff"}),  # a low surrogate alone is as bad
])
def test_a_lone_surrogate_in_any_string_is_bad_user_input(api: Api, client: TestClient,
                                                          caplog: pytest.LogCaptureFixture, query: str,
                                                          variables: dict[str, Any]) -> None:
    channel = make_channel(api)
    caplog.set_level(logging.DEBUG)
    result = post(client, query, {"channel": channel, **variables} if "$channel" in query else variables)
    assert_bad_user_input(result, SURROGATE_MESSAGE)
    assert result.get("data") is None
    assert_no_traceback(caplog)
    # nothing was written: the same key, valid, opens a first session at rev 0
    opened = post(client, OPEN, {"channel": channel, "key": "K"})["data"]["openSession"]
    assert opened == {"session": {"sessionKey": "K"}, "errors": []}


def test_a_lone_surrogate_in_a_get_query_is_bad_user_input(api: Api, client: TestClient) -> None:
    response = client.get("/graphql", params={"query": ORDER, "variables": json.dumps({"ref": LONE})})
    assert response.status_code == 200, response.text
    assert_bad_user_input(response.json(), SURROGATE_MESSAGE)


def test_a_surrogate_pair_is_valid_text(api: Api, client: TestClient) -> None:
    channel = make_channel(api)
    key = "mesa-\U0001f600"  # json.dumps writes it as the escapes "\ud83d\ude00": a pair, one character
    assert "\\ud83d\\ude00" in json.dumps(key)
    assert post(client, OPEN, {"channel": channel, "key": key})["data"]["openSession"] == {
        "session": {"sessionKey": key}, "errors": []}


def test_what_counts_as_a_lone_surrogate() -> None:
    assert contains_lone_surrogate({"a": [{"b": "x\ud83d"}]})
    assert contains_lone_surrogate({"\udc00": 1})
    assert not contains_lone_surrogate({"a": ["\U0001f600", "é", 1, None, True], "b": {"c": "plain"}})
    deep: object = LONE
    for _ in range(5_000):
        deep = [deep]
    assert contains_lone_surrogate(deep)


@pytest.mark.parametrize("raw", [
    f"v1:|{10**100}",  # a row id no database column holds
    f"v1:|{MAX_ROW_ID + 1}",
    "v1:|-1",
    "v1:2026-01-01T00:00:00|5",  # no offset: not a cursor this server made
    "v1:0001-01-01T00:00:00+14:00|5",  # before the first instant a datetime holds, once in UTC
    "v1:9999-12-31T23:59:59-10:00|5",  # after the last
])
@pytest.mark.parametrize("field", list(LISTS))
def test_a_cursor_out_of_range_is_bad_user_input(api: Api, client: TestClient, caplog: pytest.LogCaptureFixture,
                                                 raw: str, field: str) -> None:
    caplog.set_level(logging.DEBUG)
    result = post(client, LISTS[field], {"after": cursor(raw)})
    assert_bad_user_input(result, "`after` is not a cursor of this list")
    assert result["data"] is None
    assert_no_traceback(caplog)


def test_the_largest_row_id_is_still_a_cursor(api: Api, client: TestClient) -> None:
    for field, query in LISTS.items():
        largest = MAX_INT_ROW_ID if field == "sessions" else MAX_ROW_ID  # sessions.id is a PostgreSQL INTEGER
        assert post(client, query, {"after": cursor(f"v1:|{largest}")}) == {"data": {field: {"edges": []}}}
        if field == "sessions":
            assert_bad_user_input(post(client, query, {"after": cursor(f"v1:|{largest + 1}")}), "`after`")
        with_time = cursor(f"v1:2026-01-01T00:00:00+03:00|{largest}")
        assert post(client, query, {"after": with_time}) == {"data": {field: {"edges": []}}}


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-10:00"])
def test_a_time_beyond_the_calendar_is_refused_as_input(api: Api, client: TestClient,
                                                        caplog: pytest.LogCaptureFixture, when: str) -> None:
    caplog.set_level(logging.DEBUG)
    result = post(client, ORDERS_SINCE, {"at": when})
    assert "outside the dates the hub can store" in result["errors"][0]["message"], result
    # refused like any scalar that does not coerce (a variable error), never masked
    assert result["errors"][0].get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR"
    assert result.get("data") is None
    assert_no_traceback(caplog)


def test_an_event_cursor_beyond_a_row_id_is_invalid_input() -> None:
    def event_cursor(raw: str) -> str:
        return cursor(EVENT_CURSOR_PREFIX + raw)

    assert Position.decode(event_cursor(f"{MAX_ROW_ID - 1}.1")).floor == MAX_ROW_ID - 1
    for raw in (str(10**100), f"{MAX_ROW_ID}.1", f"5.{10**100}"):
        with pytest.raises(OmnimanError) as refused:
            Position.decode(event_cursor(raw))
        assert refused.value.code == "invalid_input"


def test_a_lone_surrogate_in_a_subscription_is_bad_user_input(api: Api, client: TestClient,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    channel = make_channel(api)
    caplog.set_level(logging.DEBUG)
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        ws = GraphQLWs(raw)
        ws.init()
        # as a client writes it: the surrogate as a JSON escape (the text frame itself is valid UTF-8)
        raw.send_text(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SESSION_CHANGED, "variables": {"channel": channel, "key": LONE}}}))
        message = ws.message("1")
    # Strawberry answers a subscription's execution errors in a `next` (no stream is started)
    assert message["payload"] == {"data": None, "errors": [{"message": SURROGATE_MESSAGE,
                                                            "extensions": {"code": "BAD_USER_INPUT"}}]}, message
    assert_no_traceback(caplog)

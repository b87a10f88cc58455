"""Permissions with real tokens, in brief: roles give FORBIDDEN at the top level (never masked), channel scopes hide
what lies outside them, and events record the token's name. The full matrix is in tests/security."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.fixtures.app import Api
from tests.graphql import create_token, gql

from .operations import TRANSITION_ORDER, UPSERT_CHANNEL, import_order, make_channel

ORDER = """query($ref: String!) { order(ref: $ref) { ref status events { actor } } }"""
ORDERS = """query($channelCode: String) { orders(first: 10, channelCode: $channelCode) { edges { node { ref } } } }"""


def test_a_role_without_the_right_gets_forbidden(api: Api, client: TestClient) -> None:
    ref = import_order(api, make_channel(api, code="pos"))["ref"]
    kitchen = create_token(client, "display", ["pos"], name="kitchen")
    for query, variables in ((UPSERT_CHANNEL, {"input": {"code": "x"}}),
                             (TRANSITION_ORDER, {"input": {"ref": ref, "status": "confirmed"}})):
        result = gql(client, query, variables, token=kitchen)
        assert result["data"] is None
        assert result["errors"][0]["extensions"] == {"code": "FORBIDDEN"}, result
    assert gql(client, ORDER, {"ref": ref}, token=kitchen)["data"]["order"]["ref"] == ref


def test_a_channel_scope_hides_other_channels(api: Api, client: TestClient) -> None:
    mine = import_order(api, make_channel(api, code="pos"))["ref"]
    theirs = import_order(api, make_channel(api, code="web"))["ref"]
    till = create_token(client, "client", ["pos"], name="till-1")
    assert gql(client, ORDERS, {}, token=till)["data"]["orders"]["edges"] == [{"node": {"ref": mine}}]
    assert gql(client, ORDERS, {"channelCode": "web"}, token=till)["data"]["orders"]["edges"] == []
    assert gql(client, ORDER, {"ref": theirs}, token=till) == {"data": {"order": None}}
    opened = gql(client, 'mutation { openSession(input: {channelCode: "web"}) { session { rev } errors { code } } }',
                 token=till)
    assert opened["data"]["openSession"] == {"session": None, "errors": [{"code": "not_found"}]}


def test_events_record_the_callers_name(api: Api, client: TestClient) -> None:
    ref = import_order(api, make_channel(api, code="pos"))["ref"]
    maria = create_token(client, "staff", name="maria")
    result = gql(client, TRANSITION_ORDER, {"input": {"ref": ref, "status": "confirmed"}}, token=maria)
    assert result["data"]["transitionOrder"]["order"]["events"][-1]["actor"] == "maria"

"""Refs and order search over GraphQL: attach, resolve and detach, the ticket on orders, and `orders(search:)` by
each kind of locator, never across a client token's channels."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.testclient import TestClient

from tests.api.operations import (
    ERRORS,
    MODIFY_SESSION,
    OPEN_SESSION,
    commit,
    import_order,
    make_channel,
    ok,
    open_with_lines,
)
from tests.fixtures.app import Api
from tests.graphql import create_token, gql

ATTACH = f"""mutation($input: AttachRefInput!) {{ attachRef(input: $input) {{
  ref {{ type value scope isActive createdAt }} {ERRORS} }} }}"""
DETACH = f"mutation($input: DetachRefInput!) {{ detachRef(input: $input) {{ ref {{ value isActive }} {ERRORS} }} }}"
RESOLVE = """query($c: String!, $t: String!, $v: String!) { resolveRef(channelCode: $c, type: $t, value: $v) {
  ref { type value } session { sessionKey state refs { type value isActive } } order { ref ticket } } }"""
SEARCH = """query($search: String, $channel: String, $status: String, $first: Int) {
  orders(search: $search, channelCode: $channel, status: $status, first: $first) {
    edges { node { ref ticket refs { type value } } } pageInfo { hasNextPage } } }"""
REF_TYPES = "query { refTypes { code label target scope copyToOrder expiresOnClose } }"


def attach(api: Api, channel: str, type_: str, value: str, **target: str) -> dict[str, Any]:
    return api(ATTACH, {"input": {"channelCode": channel, "type": type_, "value": value, **target}})["data"][
        "attachRef"]


def found(api: Api, search: str, **filters: Any) -> list[str]:
    result = api(SEARCH, {"search": search, **filters})
    assert "errors" not in result, result
    return [edge["node"]["ref"] for edge in result["data"]["orders"]["edges"]]


def test_a_table_is_attached_resolved_and_ends_with_its_session(api: Api) -> None:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)
    body = attach(api, channel, "TABLE", " 5 ", sessionKey=key)
    assert body["errors"] == [] and body["ref"]["value"] == "5" and body["ref"]["isActive"]
    other, _ = open_with_lines(api, channel)
    taken = attach(api, channel, "TABLE", "5", sessionKey=other)
    assert [(e["code"], e["context"]["holder"], e["context"]["session_key"]) for e in taken["errors"]] == [
        ("ref_taken", "session", key)]
    assert [e["code"] for e in attach(api, channel, "NOPE", "5", sessionKey=other)["errors"]] == ["invalid_ref_type"]
    assert [e["code"] for e in attach(api, channel, "TICKET", "5", sessionKey=other)["errors"]] == [
        "invalid_ref_target"]
    held = api(RESOLVE, {"c": channel, "t": "TABLE", "v": "5"})["data"]["resolveRef"]
    assert held["session"]["sessionKey"] == key and held["order"] is None
    assert held["session"]["refs"] == [{"type": "TABLE", "value": "5", "isActive": True}]
    commit(api, channel, key)
    assert api(RESOLVE, {"c": channel, "t": "TABLE", "v": "5"})["data"]["resolveRef"] is None
    closed = api("""query($c: String!, $k: String!) { session(channelCode: $c, sessionKey: $k) {
        refs { type value isActive } } }""", {"c": channel, "k": key})["data"]["session"]
    assert closed["refs"] == [{"type": "TABLE", "value": "5", "isActive": False}]  # ended with its session
    assert attach(api, channel, "TABLE", "5", sessionKey=other)["errors"] == []
    assert ok(api, DETACH, "detachRef", {"input": {"channelCode": channel, "type": "TABLE", "value": "5"}})["ref"] == {
        "value": "5", "isActive": False}
    codes = {t["code"]: t for t in api(REF_TYPES)["data"]["refTypes"]}
    assert codes["TABLE"] == {"code": "TABLE", "label": "Table", "target": "session", "scope": "business_day",
                              "copyToOrder": False, "expiresOnClose": True}


def test_tickets_show_on_orders_and_every_locator_finds_its_order(api: Api) -> None:
    channel = make_channel(api, config={"ticket": {"ref_type": "TICKET", "width": 3}})
    phone = f"11 9{uuid.uuid4().int % 10**8:08d}"
    customer = ok(api, """mutation($input: CustomerInput!) { upsertCustomer(input: $input) {
        customer { code } errors { code } } }""", "upsertCustomer",
                  {"input": {"name": f"Zélia {uuid.uuid4().hex[:6]}", "phone": phone}})["customer"]["code"]
    handle = f"H-{uuid.uuid4().hex[:6]}"
    key = f"S-{uuid.uuid4().hex[:8]}"
    ok(api, OPEN_SESSION, "openSession", {"input": {"channelCode": channel, "sessionKey": key, "handleType": "table",
                                                    "handleRef": handle}})
    ok(api, MODIFY_SESSION, "modifySession", {"input": {"channelCode": channel, "sessionKey": key, "ops": [
        {"addLine": {"sku": "COFFEE", "qty": "1", "unitPriceQ": 500}}, {"setCustomer": {"code": customer}}]}})
    tab = f"tab-{uuid.uuid4().hex[:6]}"
    assert attach(api, channel, "TAB", tab, sessionKey=key)["errors"] == []
    order_ref = commit(api, channel, key)["result"]["orderRef"]
    imported = import_order(api, channel, external_ref=f"ifood-{uuid.uuid4().hex[:6]}")
    first = api(SEARCH, {"search": order_ref})["data"]["orders"]["edges"][0]["node"]
    assert first["ticket"] == "001"
    assert {"type": "TICKET", "value": "001"} in first["refs"]
    assert found(api, order_ref.lower()) == [order_ref]
    assert found(api, imported["externalRef"]) == [imported["ref"]]
    assert found(api, handle) == [order_ref]
    assert found(api, tab) == [order_ref]  # the session's tab, ended at commit, still names its order
    assert found(api, phone) == [order_ref]
    assert found(api, customer) == []  # a customer code is not a locator here: `customerCode` filters by it
    name = api("query($c: String!) { customer(code: $c) { name } }", {"c": customer})["data"]["customer"]["name"]
    assert found(api, name.upper()) == [order_ref]  # the start of the name, case and accents ignored
    assert set(found(api, "002", channel=channel)) == {imported["ref"]}  # the import got the next ticket
    assert found(api, "002", channel=channel, status="nope") == []  # combined with the other filters
    assert found(api, f"nothing-{uuid.uuid4().hex}") == []
    too_long = api(SEARCH, {"search": "x" * 201})
    assert too_long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_client_token_never_finds_another_channels_order(api: Api, client: TestClient) -> None:
    mine, theirs = make_channel(api), make_channel(api)
    shared = f"shared-{uuid.uuid4().hex[:6]}"
    refs = {}
    for channel in (mine, theirs):
        key, _ = open_with_lines(api, channel)
        assert attach(api, channel, "TAB", shared, sessionKey=key)["errors"] == []
        refs[channel] = commit(api, channel, key)["result"]["orderRef"]
    token = create_token(client, "client", [mine], name=f"client-{uuid.uuid4().hex[:6]}")
    seen = gql(client, SEARCH, {"search": shared}, token=token)["data"]["orders"]["edges"]
    assert [edge["node"]["ref"] for edge in seen] == [refs[mine]]
    assert gql(client, SEARCH, {"search": refs[theirs]}, token=token)["data"]["orders"]["edges"] == []
    assert gql(client, SEARCH, {"search": shared, "channel": theirs}, token=token)["data"]["orders"]["edges"] == []
    assert sorted(found(api, shared)) == sorted(refs.values())  # an unscoped token sees both

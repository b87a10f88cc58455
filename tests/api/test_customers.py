"""Customers and price lists over GraphQL: upsertCustomer, customer(s), setCustomer, Session.customer and
Order.customer, orders(customerCode), prices per channel and list; what a client token sees; and personal data
kept out of the logs."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from omniman_gql.infra.observability import JsonLineFormatter
from omniman_gql.services import directives
from omniman_gql.settings import Settings
from tests.api.operations import ERRORS, commit, make_channel, ok, open_with_lines, payload
from tests.fixtures.app import Api
from tests.graphql import create_token, gql

CUSTOMER = "code name phone email taxId priceList notes tags isActive ordersCount totalSpentQ lastOrderAt"
UPSERT = f"""mutation($input: CustomerInput!) {{ upsertCustomer(input: $input) {{ customer {{ {CUSTOMER} }}
  {ERRORS} }} }}"""
GET = f"query($code: String!) {{ customer(code: $code) {{ {CUSTOMER} }} }}"
SEARCH = """query($search: String, $first: Int, $after: String) { customers(search: $search, first: $first,
  after: $after) { edges { cursor node { code } } pageInfo { hasNextPage endCursor } } }"""
MODIFY = f"""mutation($input: ModifySessionInput!) {{ modifySession(input: $input) {{ session {{ rev data
  items {{ sku unitPriceQ }} customer {{ code name priceList }} }} {ERRORS} }} }}"""
SESSION = """query($channel: String!, $key: String!) { session(channelCode: $channel, sessionKey: $key) {
  customer { code name phone } } }"""
ORDER = "query($ref: String!) { order(ref: $ref) { customer { code name ordersCount } snapshot } }"
ORDERS = """query($customer: String) { orders(customerCode: $customer, first: 10) { edges { node { ref
  customer { code } } } } }"""
SET_PRICES = f"""mutation($input: [PriceInput!]!) {{ setPrices(input: $input) {{ prices {{ sku unitPriceQ
  channelCode priceList }} {ERRORS} }} }}"""
PRICES = """query($skus: [String!], $channel: String, $list: String) { prices(skus: $skus, channelCode: $channel,
  priceList: $list) { sku unitPriceQ channelCode priceList } }"""
ANA = {"code": "ana", "name": "Ana Souza", "phone": "(11) 98765-4321", "email": "ana.souza@example.com",
       "priceList": "staff"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    # One JSON log line per request and per directive: the lines these tests look through for personal data.
    return Settings(database_url=database_url, redis_url=None, log_json=True)


def modify(api: Api, channel: str, key: str, *ops: dict[str, Any]) -> dict[str, Any]:
    return payload(api(MODIFY, {"input": {"channelCode": channel, "sessionKey": key, "ops": list(ops)}}),
                   "modifySession")


def test_upsert_then_read_and_errors_name_the_input(api: Api) -> None:
    saved = ok(api, UPSERT, "upsertCustomer", {"input": ANA})["customer"]
    refused = payload(api(UPSERT, {"input": {"code": "ana", "taxId": "<b>", "email": "nope"}}), "upsertCustomer")

    assert saved == {**ANA, "email": "ana.souza@example.com", "taxId": None, "notes": None, "tags": [],
                     "isActive": True, "ordersCount": 0, "totalSpentQ": 0, "lastOrderAt": None}
    assert api.data(GET, {"code": "ana"})["customer"] == saved
    assert api.data(GET, {"code": "nobody"})["customer"] is None
    assert refused["customer"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("invalid_input", ["email"]),
                                                                   ("invalid_input", ["taxId"])]


def test_customers_search_pages_with_cursors(api: Api) -> None:
    codes = [ok(api, UPSERT, "upsertCustomer", {"input": {"name": f"Regular {i}", "phone": f"21 9000{i}-000{i}"}}
                )["customer"]["code"] for i in range(3)]

    first = api.data(SEARCH, {"search": "regular", "first": 2})["customers"]
    rest = api.data(SEARCH, {"search": "regular", "first": 2, "after": first["pageInfo"]["endCursor"]})["customers"]
    by_phone = api.data(SEARCH, {"search": "(21) 90001 0001"})["customers"]

    assert [e["node"]["code"] for e in first["edges"] + rest["edges"]] == codes[::-1]
    assert (first["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    assert [e["node"]["code"] for e in by_phone["edges"]] == [codes[1]]
    too_long = api(SEARCH, {"search": "x" * 201})
    assert too_long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_set_customer_reprices_and_the_order_keeps_the_customer(api: Api) -> None:
    channel = make_channel(api)
    ok(api, SET_PRICES, "setPrices", {"input": [{"sku": "COFFEE", "unitPriceQ": 550},
                                                 {"sku": "COFFEE", "unitPriceQ": 300, "channelCode": channel,
                                                  "priceList": "staff"}]})
    ok(api, UPSERT, "upsertCustomer", {"input": ANA})
    key, _ = open_with_lines(api, channel, [("COFFEE", "1", None)])

    named = modify(api, channel, key, {"setCustomer": {"code": "ana"}})
    missing = modify(api, channel, key, {"setCustomer": {"code": "nobody"}})
    ref = commit(api, channel, key)["result"]["orderRef"]
    ok(api, UPSERT, "upsertCustomer", {"input": {"code": "ana", "name": "Ana S. Lima"}})

    assert named["errors"] == [] and named["session"]["rev"] == 2
    assert named["session"]["items"] == [{"sku": "COFFEE", "unitPriceQ": 300}]
    assert named["session"]["customer"] == {"code": "ana", "name": "Ana Souza", "priceList": "staff"}
    assert "linked_customer" not in named["session"]["data"]
    assert [(e["code"], e["field"]) for e in missing["errors"]] == [("customer_not_found",
                                                                    ["ops", "0", "setCustomer", "code"])]
    order = api.data(ORDER, {"ref": ref})["order"]
    assert order["customer"] == {"code": "ana", "name": "Ana S. Lima", "ordersCount": 0}
    assert order["snapshot"]["customer"] == {"code": "ana", "name": "Ana Souza", "phone": "(11) 98765-4321"}
    assert api.data(ORDERS, {"customer": "ana"})["orders"]["edges"] == [{"node": {"ref": ref,
                                                                                  "customer": {"code": "ana"}}}]


def test_prices_show_and_filter_channel_and_list(api: Api) -> None:
    channel = make_channel(api)
    ok(api, SET_PRICES, "setPrices", {"input": [
        {"sku": "TEA", "unitPriceQ": 400}, {"sku": "TEA", "unitPriceQ": 350, "channelCode": channel},
        {"sku": "TEA", "unitPriceQ": 200, "priceList": "staff"}]})

    every = api.data(PRICES, {"skus": ["TEA"]})["prices"]
    staff = api.data(PRICES, {"skus": ["TEA"], "list": "staff"})["prices"]

    assert every == [{"sku": "TEA", "unitPriceQ": 400, "channelCode": None, "priceList": None},
                     {"sku": "TEA", "unitPriceQ": 200, "channelCode": None, "priceList": "staff"},
                     {"sku": "TEA", "unitPriceQ": 350, "channelCode": channel, "priceList": None}]
    assert staff == [every[1]]


def test_a_client_token_sees_the_customer_of_its_channels_only(api: Api, client: TestClient) -> None:
    mine, theirs = make_channel(api), make_channel(api)
    ok(api, UPSERT, "upsertCustomer", {"input": ANA})
    refs, keys = {}, {}
    for channel in (mine, theirs):
        keys[channel], _ = open_with_lines(api, channel)
        modify(api, channel, keys[channel], {"setCustomer": {"code": "ana"}})
        refs[channel] = commit(api, channel, keys[channel])["result"]["orderRef"]
    token = create_token(client, "client", [mine], name=f"till-{uuid.uuid4().hex[:4]}")

    own_session = gql(client, SESSION, {"channel": mine, "key": keys[mine]}, token=token)["data"]["session"]
    other_session = gql(client, SESSION, {"channel": theirs, "key": keys[theirs]}, token=token)["data"]["session"]
    own_order = gql(client, ORDER, {"ref": refs[mine]}, token=token)["data"]["order"]
    other_order = gql(client, ORDER, {"ref": refs[theirs]}, token=token)["data"]["order"]
    listed = gql(client, ORDERS, {"customer": "ana"}, token=token)["data"]["orders"]["edges"]
    directory = gql(client, GET, {"code": "ana"}, token=token)

    assert own_session == {"customer": {"code": "ana", "name": "Ana Souza", "phone": "(11) 98765-4321"}}
    assert other_session is None and other_order is None
    assert own_order["customer"]["code"] == "ana"
    assert [edge["node"]["ref"] for edge in listed] == [refs[mine]]
    assert directory["data"] == {"customer": None} and directory["errors"][0]["extensions"]["code"] == "FORBIDDEN"


class Lines(logging.Handler):
    """Every record of the loggers it is attached to, formatted as the JSON lines the hub writes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonLineFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_personal_data_never_reaches_the_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    lines = Lines()
    own = [logging.getLogger(name) for name in ("omniman.requests", "omniman.directive_runs")]
    for logger in own:  # they do not propagate to the root logger caplog listens to
        logger.addHandler(lines)
    channel = make_channel(api)
    ok(api, UPSERT, "upsertCustomer", {"input": ANA})
    payload(api(UPSERT, {"input": {"code": "other", "phone": "(11) 98765-4321"}}), "upsertCustomer")
    payload(api(UPSERT, {"input": {"name": "Zé", "email": "ze.secret@nowhere"}}), "upsertCustomer")
    key, _ = open_with_lines(api, channel)
    modify(api, channel, key, {"setCustomer": {"code": "ana"}})
    ref = commit(api, channel, key)["result"]["orderRef"]
    for row in api.run(directives.directives_of_order, api.hub, ref):
        api.run(directives.run_directive, api.hub, row.id)
    api.data(SEARCH, {"search": "98765"})

    assert api.data(ORDER, {"ref": ref})["order"]["customer"]["ordersCount"] == 1  # the directive ran
    for logger in own:
        logger.removeHandler(lines)
    written = "\n".join(lines.lines)
    logged = caplog.text + "".join(str(record.args) for record in caplog.records) + written
    # The JSON lines of the requests were written (and looked through); a directive run by hand writes none.
    assert written.count('"operation":"upsertCustomer"') == 3 and '"operation":"customers"' in written
    for secret in ("98765", "ana.souza", "Souza", "ze.secret"):
        assert secret not in logged

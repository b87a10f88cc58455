"""Reads and the remaining happy paths: sessions (connection, order, issues), issue resolution, get-or-open,
channels, prices and stock levels, directives and their retry."""

from __future__ import annotations

from sqlalchemy import update

from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.services import sessions
from tests.fixtures.app import Api

from .operations import (
    OPEN_SESSION,
    RESOLVE_ISSUE,
    RETRY_DIRECTIVE,
    SET_PRICES,
    SET_STOCK_LEVELS,
    commit,
    make_channel,
    ok,
    open_with_lines,
)

SESSION = """query($channel: String!, $key: String!) { session(channelCode: $channel, sessionKey: $key) {
  sessionKey state rev totalQ itemsCount channel { code } checks data
  issues { id source code blocking message context actions { id label rev ops } } order { ref totalQ } } }"""
SESSIONS = """query($channel: String, $state: SessionState, $first: Int, $after: String) {
  sessions(channelCode: $channel, state: $state, first: $first, after: $after) {
    edges { cursor node { sessionKey state } } pageInfo { hasNextPage endCursor } } }"""
CHANNELS = """query($code: String!) { channels { code } channel(code: $code) { code name pricingPolicy editPolicy
  currency displayOrder isActive config } }"""
CATALOG = """query($skus: [String!]) { prices(skus: $skus) { sku unitPriceQ name }
  stockLevels(skus: $skus) { sku onHand held available } }"""
DIRECTIVES = """query($status: DirectiveStatus) { directives(status: $status, first: 10) {
  edges { node { id topic status attempts orderRef payload } } } }"""


def test_session_query_shows_its_order_once_committed(api: Api) -> None:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)
    assert api.data(SESSION, {"channel": channel, "key": key})["session"]["order"] is None
    ref = commit(api, channel, key)["result"]["orderRef"]
    session = api.data(SESSION, {"channel": channel, "key": key})["session"]
    assert session["state"] == "COMMITTED" and session["order"] == {"ref": ref, "totalQ": 1950}
    assert session["channel"] == {"code": channel} and session["itemsCount"] == 2
    assert api.data(SESSION, {"channel": channel, "key": "nope"})["session"] is None


def test_sessions_connection_filters_by_state_newest_first(api: Api) -> None:
    channel = make_channel(api)
    keys = [open_with_lines(api, channel, key=f"S-{i}")[0] for i in range(5)]
    commit(api, channel, keys[1])
    page = api.data(SESSIONS, {"channel": channel, "first": 3})["sessions"]
    rest = api.data(SESSIONS, {"channel": channel, "first": 3, "after": page["pageInfo"]["endCursor"]})["sessions"]
    assert [e["node"]["sessionKey"] for e in page["edges"] + rest["edges"]] == list(reversed(keys))
    assert page["pageInfo"]["hasNextPage"] is True and rest["pageInfo"]["hasNextPage"] is False
    committed = api.data(SESSIONS, {"channel": channel, "state": "COMMITTED"})["sessions"]["edges"]
    assert [e["node"] for e in committed] == [{"sessionKey": "S-1", "state": "COMMITTED"}]


def test_issue_actions_use_the_op_input_shape_and_resolve(api: Api) -> None:
    channel = make_channel(api)
    key, lines = open_with_lines(api, channel)
    issue = {"id": "ISS-1", "code": "stock.insufficient", "blocking": True, "message": "only 1 left",
             "context": {"sku": "COFFEE", "actions": [{"id": "ACT-1", "label": "adjust to 1",
                                                       "ops": [{"op": "set_qty", "line_id": lines[0], "qty": "1"}]}]}}
    assert api.run(sessions.write_back_check, api.hub, channel_code=channel, session_key=key, check_code="stock",
                   expected_rev=1, result={"ok": False}, issues=[issue])
    read = api.data(SESSION, {"channel": channel, "key": key})["session"]
    assert read["checks"]["stock"]["rev"] == 1 and "checks" not in read["data"]
    assert read["issues"] == [{"id": "ISS-1", "source": "stock", "code": "stock.insufficient", "blocking": True,
                               "message": "only 1 left", "context": {"sku": "COFFEE"},
                               "actions": [{"id": "ACT-1", "label": "adjust to 1", "rev": 1,
                                            "ops": [{"setQty": {"lineId": lines[0], "qty": "1"}}]}]}]
    resolved = ok(api, RESOLVE_ISSUE, "resolveIssue", {"input": {
        "channelCode": channel, "sessionKey": key, "issueId": "ISS-1", "actionId": "ACT-1"}})["session"]
    assert resolved["rev"] == 2 and resolved["items"][0] == {"lineId": lines[0], "qty": "1"}


def test_open_session_with_a_handle_is_get_or_open(api: Api) -> None:
    channel = make_channel(api)
    variables = {"input": {"channelCode": channel, "handleType": "table", "handleRef": "5"}}
    first = ok(api, OPEN_SESSION, "openSession", variables)
    again = ok(api, OPEN_SESSION, "openSession", variables)
    assert first["created"] is True and again["created"] is False
    assert again["session"]["sessionKey"] == first["session"]["sessionKey"]
    assert first["session"]["sessionKey"].startswith("SESS-")


def test_channels_are_listed_and_read(api: Api) -> None:
    code = make_channel(api, name="Web shop", pricingPolicy="EXTERNAL", displayOrder=2, currency="USD",
                        config={"post_commit_directives": ["notification.send"]})
    data = api.data(CHANNELS, {"code": code})
    assert data["channels"] == [{"code": code}]
    assert data["channel"] == {"code": code, "name": "Web shop", "pricingPolicy": "EXTERNAL", "editPolicy": "OPEN",
                               "currency": "USD", "displayOrder": 2, "isActive": True,
                               "config": {"post_commit_directives": ["notification.send"]}}
    assert api.data(CHANNELS, {"code": "nope"})["channel"] is None


def test_prices_and_stock_levels_round_trip(api: Api) -> None:
    prices = ok(api, SET_PRICES, "setPrices", {"input": [{"sku": "COFFEE", "unitPriceQ": 550, "name": "Coffee"},
                                                         {"sku": "TEA", "unitPriceQ": 400}]})
    assert prices["prices"] == [{"sku": "COFFEE", "unitPriceQ": 550, "name": "Coffee"},
                                {"sku": "TEA", "unitPriceQ": 400, "name": ""}]
    levels = ok(api, SET_STOCK_LEVELS, "setStockLevels", {"input": [{"sku": "COFFEE", "qty": "10.5"},
                                                                    {"sku": "TEA", "qty": "0"}]})
    assert levels["stockLevels"] == [{"sku": "COFFEE", "onHand": "10.5", "held": "0", "available": "10.5"},
                                     {"sku": "TEA", "onHand": "0", "held": "0", "available": "0"}]
    data = api.data(CATALOG, {"skus": ["COFFEE"]})
    assert data == {"prices": [{"sku": "COFFEE", "unitPriceQ": 550, "name": "Coffee"}],
                    "stockLevels": [{"sku": "COFFEE", "onHand": "10.5", "held": "0", "available": "10.5"}]}


def test_a_failed_directive_is_listed_and_retried(api: Api) -> None:
    channel = make_channel(api, config={"post_commit_directives": ["notification.send"]})
    key, _ = open_with_lines(api, channel)
    ref = commit(api, channel, key)["result"]["orderRef"]

    async def fail_all(hub: Hub) -> None:
        async with hub.transaction() as uow:
            await uow.db.execute(update(Directive).values(status="failed", attempts=5, last_error="smtp down"))
    api.run(fail_all, api.hub)

    failed = api.data(DIRECTIVES, {"status": "FAILED"})["directives"]["edges"]
    assert [(e["node"]["topic"], e["node"]["orderRef"]) for e in failed] == [("notification.send", ref)]
    retried = ok(api, RETRY_DIRECTIVE, "retryDirective", {"id": failed[0]["node"]["id"]})["directive"]
    assert retried["id"] == failed[0]["node"]["id"] and retried["status"] == "QUEUED"
    assert api.data(DIRECTIVES, {"status": "FAILED"})["directives"]["edges"] == []

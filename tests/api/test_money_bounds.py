"""Over HTTP: an overflowing amount is a payload error and no order, lists stay readable; price overrides by role."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fixtures.app import Api
from tests.graphql import create_token, gql

from .operations import COMMIT_SESSION, IMPORT_ORDER, MODIFY_SESSION, SET_PRICES, make_channel, ok, open_with_lines

ORDER_TOTALS = "{ orders(first: 100) { edges { node { ref totalQ items { lineTotalQ } } } } }"


def errors_of(result: dict[str, Any], name: str) -> list[tuple[str, list[str]]]:
    assert "errors" not in result, result
    return [(e["code"], e["field"]) for e in result["data"][name]["errors"]]


def test_the_overflowing_order_of_the_issue_is_refused_and_every_role_still_reads_orders(
        api: Api, client: TestClient) -> None:
    channel = make_channel(api)
    tokens = {role: create_token(client, role, [channel] if role in ("client", "display") else [])
              for role in ("admin", "staff", "client", "display")}
    key, _ = open_with_lines(api, channel, lines=[("TEA", "1", 300)])
    # An order that fits, so the lists below have something to show.
    assert gql(client, COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": key, "idempotencyKey": "K0"}},
               token=tokens["client"])["data"]["commitSession"]["errors"] == []
    key, _ = open_with_lines(api, channel, lines=[])
    modify = gql(client, MODIFY_SESSION, {"input": {"channelCode": channel, "sessionKey": key, "ops": [
        {"addLine": {"sku": "COFFEE", "qty": "999999999", "unitPriceQ": 550}}]}}, token=tokens["client"])
    assert errors_of(modify, "modifySession") == [("amount_out_of_range", ["ops", "0", "addLine"])]
    assert modify["data"]["modifySession"]["errors"][0]["context"]["amount_q"] == 549_999_999_450
    commit = gql(client, COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": key,
                                                    "idempotencyKey": "K1"}}, token=tokens["client"])
    assert errors_of(commit, "commitSession") == [("empty_session", None)]  # the line never got in: nothing to seal
    for role, token in tokens.items():
        result = gql(client, ORDER_TOTALS, token=token)
        assert "errors" not in result, (role, result)
        assert [edge["node"]["totalQ"] for edge in result["data"]["orders"]["edges"]] == [300], role


def test_an_overflowing_import_is_refused_and_creates_no_order(api: Api) -> None:
    channel = make_channel(api, pricingPolicy="EXTERNAL", editPolicy="LOCKED")
    result = api(IMPORT_ORDER, {"input": {"channelCode": channel, "externalRef": "IFOOD-BIG", "items": [
        {"sku": "TEA", "qty": "1", "unitPriceQ": 300}, {"sku": "COFFEE", "qty": "999999999", "unitPriceQ": 550}]}})
    assert errors_of(result, "importOrder") == [("amount_out_of_range", ["items", "1"])]
    assert result["data"]["importOrder"]["order"] is None
    assert api.data(ORDER_TOTALS)["orders"]["edges"] == []


@pytest.mark.parametrize(("policy", "refused"), [
    (None, {"client"}), ("staff", {"client"}), ("anyone", set()), ("never", {"client", "staff", "admin"})])
def test_price_overrides_follow_the_channel_policy_per_role(
        api: Api, client: TestClient, policy: str | None, refused: set[str]) -> None:
    ok(api, SET_PRICES, "setPrices", {"input": [{"sku": "COFFEE", "unitPriceQ": 550}]})
    channel = make_channel(api, config={"price_override": policy} if policy else {})
    for role in ("client", "staff", "admin"):
        token = create_token(client, role, [channel] if role == "client" else [])
        key, _ = open_with_lines(api, channel, lines=[])
        result = gql(client, MODIFY_SESSION, {"input": {"channelCode": channel, "sessionKey": key, "ops": [
            {"addLine": {"sku": "COFFEE", "qty": "1", "unitPriceQ": 1}}]}}, token=token)
        expected = [("price_override_not_allowed", ["ops", "0", "addLine", "unitPriceQ"])] if role in refused else []
        assert errors_of(result, "modifySession") == expected, role


def test_a_bad_price_override_policy_is_invalid_config(api: Api) -> None:
    result = api("""mutation($input: ChannelInput!) { upsertChannel(input: $input) { channel { code }
      errors { code field context } } }""", {"input": {"code": "pos-bad", "config": {"price_override": "clients"}}})
    (error,) = result["data"]["upsertChannel"]["errors"]
    assert (error["code"], error["field"]) == ("invalid_config", ["config", "price_override"])  # JSON keys as sent
    assert error["context"]["valid"] == ["staff", "anyone", "never"]

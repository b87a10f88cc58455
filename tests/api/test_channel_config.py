"""Channel config is checked when written (§13): topics need handlers, `on_status` keys are statuses of the flow,
the notifier exists; `upsertChannel` applies `config` as a JSON merge patch (RFC 7396)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.operations import UPSERT_CHANNEL, make_channel, ok
from tests.fixtures.app import Api

TOPICS = ["customer.record_order", "notification.send", "payment.capture", "payment.refund", "stock.commit",
          "stock.hold", "stock.release", "stock.restock"]
STATUSES = ["cancelled", "completed", "confirmed", "delivered", "dispatched", "new", "processing", "ready",
            "returned"]


def upsert(api: Api, code: str, config: Any) -> dict[str, Any]:
    result = api(UPSERT_CHANNEL, {"input": {"code": code, "config": config}})
    assert "errors" not in result, result
    return result["data"]["upsertChannel"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("config", "field", "valid"), [
    ({"on_status": {"cancelled": ["email.send"]}}, ["config", "on_status", "cancelled", "0"], TOPICS),
    ({"post_commit_directives": ["stock.commit", "payment.charge"]}, ["config", "post_commit_directives", "1"],
     TOPICS),
    ({"checks": {"stock": {"directive_topic": "stock.check"}}}, ["config", "checks", "stock", "directive_topic"],
     TOPICS),
    ({"on_status": {"shipped": ["notification.send"]}}, ["config", "on_status", "shipped"], STATUSES),
    ({"notifications": {"backend": "sms"}}, ["config", "notifications", "backend"], ["console"]),
    ({"order_flow": {"transitions": {"new": ["paid"], "paid": ["done"]}, "terminal_statuses": ["done"]},
      "on_status": {"cancelled": ["stock.release"]}}, ["config", "on_status", "cancelled"], ["done", "new", "paid"]),
], ids=["on_status topic", "post_commit topic", "check topic", "on_status status", "notifier", "own flow"])
def test_error_invalid_config_names_the_path_and_the_valid_values(api: Api, config: dict[str, Any],
                                                                   field: list[str], valid: list[str]) -> None:
    code = make_channel(api)

    answer = upsert(api, code, config)
    stored = api.data("query($code: String!) { channel(code: $code) { config } }", {"code": code})

    assert answer["channel"] is None
    (error,) = answer["errors"]
    assert (error["code"], error["field"], error["context"]["valid"]) == ("invalid_config", field, valid)
    assert stored["channel"]["config"] == {}  # nothing was written


def test_a_new_channel_with_a_bad_config_is_not_created(api: Api) -> None:
    answer = upsert(api, "never-made", {"notifications": {"backend": "sms"}})

    assert [e["code"] for e in answer["errors"]] == ["invalid_config"]
    assert api.data("query { channel(code: \"never-made\") { code } }")["channel"] is None


def test_config_is_a_merge_patch_keeping_untouched_keys_and_removing_nulls(api: Api) -> None:
    code = make_channel(api, config={"terminology": {"session": "tab", "order": "ticket"}, "icon": "mug",
                                     "post_commit_directives": ["stock.commit"]})

    patched = ok(api, UPSERT_CHANNEL, "upsertChannel", {"input": {"code": code, "config": {
        "on_status": {"cancelled": ["notification.send"]}, "terminology": {"order": None}, "icon": None,
        "restock_on_cancel": False}}})

    assert patched["channel"]["config"] == {
        "terminology": {"session": "tab"}, "post_commit_directives": ["stock.commit"],
        "on_status": {"cancelled": ["notification.send"]}, "restock_on_cancel": False}
    again = ok(api, UPSERT_CHANNEL, "upsertChannel", {"input": {"code": code, "name": "Renamed"}})
    assert again["channel"]["config"] == patched["channel"]["config"]  # no config given: none changed


def test_a_patch_is_validated_as_applied(api: Api) -> None:
    code = make_channel(api, config={"order_flow": {"transitions": {"new": ["paid"]}, "terminal_statuses": ["paid"]}})

    refused = upsert(api, code, {"on_status": {"cancelled": ["stock.release"]}})  # not a status of this flow
    accepted = upsert(api, code, {"order_flow": None, "on_status": {"cancelled": ["stock.release"]}})

    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("invalid_config", ["config", "on_status", "cancelled"])]
    assert accepted["errors"] == [] and accepted["channel"]["config"] == {"on_status": {"cancelled": ["stock.release"]}}

"""The arrangements behind tests/api/test_errors.py: each builds the state a domain error needs and returns the
request that must fail, with the code and input path it must fail with (`CASES`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from omniman_gql.models import IdempotencyKey, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.services import sessions
from tests.fixtures.app import Api

from .operations import (
    ABANDON_SESSION,
    ADD_ORDER_EVENT,
    COMMIT_SESSION,
    CREATE_FULFILLMENT,
    IMPORT_ORDER,
    MODIFY_SESSION,
    OPEN_SESSION,
    RESOLVE_ISSUE,
    RETRY_DIRECTIVE,
    SET_PRICES,
    SET_STOCK_LEVELS,
    TRANSITION_ORDER,
    UPDATE_FULFILLMENT,
    UPSERT_CHANNEL,
    commit,
    import_order,
    make_channel,
    ok,
    open_with_lines,
)

Request = tuple[str, str, dict[str, Any]]  # (operation, payload name, variables)


def modify_request(channel: str, key: str, *ops: dict[str, Any], **extra: Any) -> Request:
    return MODIFY_SESSION, "modifySession", {"input": {"channelCode": channel, "sessionKey": key, "ops": list(ops),
                                                       **extra}}


def _commit(channel: str, key: str, idem: str = "K-1") -> Request:
    return COMMIT_SESSION, "commitSession", {"input": {"channelCode": channel, "sessionKey": key,
                                                       "idempotencyKey": idem}}


def _resolve(channel: str, key: str, issue: str, action: str) -> Request:
    return RESOLVE_ISSUE, "resolveIssue", {"input": {"channelCode": channel, "sessionKey": key, "issueId": issue,
                                                     "actionId": action}}


def _write_back(api: Api, channel: str, key: str, rev: int, *, check: str = "stock",
                result: dict[str, Any] | None = None, issues: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    applied = api.run(sessions.write_back_check, api.hub, channel_code=channel, session_key=key, check_code=check,
                      expected_rev=rev, result=result or {}, issues=issues)
    assert applied


def _issue(source: str = "stock", *, blocking: bool = True, actions: list[dict[str, Any]] | None = None
           ) -> dict[str, Any]:
    return {"id": "ISS-TEST", "code": f"{source}.problem", "blocking": blocking, "message": "problem",
            "context": {"actions": actions if actions is not None else [
                {"id": "ACT-TEST", "label": "remove", "ops": [{"op": "remove_line", "line_id": "L-X"}]}]}}


def _with_issue(api: Api, issue: dict[str, Any], source: str = "stock") -> tuple[str, str]:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)
    _write_back(api, channel, key, 1, check=source, issues=[issue])  # the check's code becomes the issue's source
    return channel, key


# --- arrangements: each returns the request that must fail ----------------------------------------------------------

def open_unknown_channel(api: Api) -> Request:
    return OPEN_SESSION, "openSession", {"input": {"channelCode": "nope", "sessionKey": "S"}}


def modify_unknown_session(api: Api) -> Request:
    return modify_request(make_channel(api), "nope", {"removeLine": {"lineId": "L-1"}})


def open_inactive_channel(api: Api) -> Request:
    return OPEN_SESSION, "openSession", {"input": {"channelCode": make_channel(api, isActive=False)}}


def modify_committed(api: Api) -> Request:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)
    commit(api, channel, key)
    return modify_request(channel, key, {"addLine": {"sku": "TEA", "qty": "1", "unitPriceQ": 1}})


def modify_abandoned(api: Api) -> Request:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)
    ok(api, ABANDON_SESSION, "abandonSession", {"input": {"channelCode": channel, "sessionKey": key}})
    return modify_request(channel, key, {"addLine": {"sku": "TEA", "qty": "1", "unitPriceQ": 1}})


def commit_abandoned(api: Api) -> Request:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)
    ok(api, ABANDON_SESSION, "abandonSession", {"input": {"channelCode": channel, "sessionKey": key}})
    return _commit(channel, key)


def modify_locked(api: Api) -> Request:
    channel = make_channel(api, editPolicy="LOCKED")
    key, _ = open_with_lines(api, channel, lines=[])
    return modify_request(channel, key, {"addLine": {"sku": "TEA", "qty": "1", "unitPriceQ": 1}})


def modify_stale_rev(api: Api) -> Request:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)
    return modify_request(channel, key, {"addLine": {"sku": "TEA", "qty": "1", "unitPriceQ": 1}}, expectedRev=0)


def add_line(**fields: Any) -> Callable[[Api], Request]:
    def arrange(api: Api) -> Request:
        channel = make_channel(api, pricingPolicy=fields.pop("policy", "INTERNAL"))
        key, _ = open_with_lines(api, channel, lines=[])
        return modify_request(channel, key, {"addLine": {"sku": "TEA", "qty": "1", "unitPriceQ": 100}},
                       {"addLine": {"sku": "COFFEE", "qty": "1", **fields}})
    return arrange


def op_on_lines(make_op: Callable[[list[str]], dict[str, Any]], lines: list[tuple[str, str, int | None]] | None = None
                ) -> Callable[[Api], Request]:
    def arrange(api: Api) -> Request:
        channel = make_channel(api)
        key, line_ids = open_with_lines(api, channel, lines)
        return modify_request(channel, key, make_op(line_ids))
    return arrange


def resolve_unknown_session(api: Api) -> Request:
    return _resolve(make_channel(api), "nope", "ISS-1", "ACT-1")


def resolve_unknown_issue(api: Api) -> Request:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)
    return _resolve(channel, key, "ISS-NOPE", "ACT-1")


def resolve_without_resolver(api: Api) -> Request:
    channel, key = _with_issue(api, _issue("loyalty"), source="loyalty")
    return _resolve(channel, key, "ISS-TEST", "ACT-TEST")


def resolve_unknown_action(api: Api) -> Request:
    channel, key = _with_issue(api, _issue())
    return _resolve(channel, key, "ISS-TEST", "ACT-NOPE")


def resolve_stale_action(api: Api) -> Request:
    channel, key = _with_issue(api, _issue(actions=[{"id": "ACT-OLD", "label": "old", "rev": 0,
                                                     "ops": [{"setQty": {"lineId": "L-X", "qty": "1"}}]}]))
    return _resolve(channel, key, "ISS-TEST", "ACT-OLD")


def resolve_action_without_ops(api: Api) -> Request:
    channel, key = _with_issue(api, _issue(actions=[{"id": "ACT-EMPTY", "label": "nothing", "ops": []}]))
    return _resolve(channel, key, "ISS-TEST", "ACT-EMPTY")


def commit_in_progress(api: Api) -> Request:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel)

    async def hold_key(hub: Hub) -> None:  # a concurrent commit holding the key, frozen in time
        async with hub.transaction() as uow:
            uow.db.add(IdempotencyKey(scope=f"commit:{channel}", key="K-1", status="in_progress", session_key=key))
    api.run(hold_key, api.hub)
    return _commit(channel, key)


def commit_reused_key(api: Api) -> Request:
    channel = make_channel(api)
    first, _ = open_with_lines(api, channel)
    commit(api, channel, first, "K-1")
    second, _ = open_with_lines(api, channel)
    return _commit(channel, second)


def commit_missing_check(api: Api) -> Request:
    channel = make_channel(api, config={"required_checks_on_commit": ["stock"]})
    key, _ = open_with_lines(api, channel)
    return _commit(channel, key)


def commit_expired_hold(api: Api) -> Request:
    channel = make_channel(api, config={"required_checks_on_commit": ["stock"]})
    key, _ = open_with_lines(api, channel)
    past = (utcnow() - dt.timedelta(minutes=1)).isoformat()
    _write_back(api, channel, key, 1, result={"holds": [], "hold_expires_at": past})
    return _commit(channel, key)


def commit_blocked(api: Api) -> Request:
    channel, key = _with_issue(api, _issue())
    return _commit(channel, key)


def commit_empty(api: Api) -> Request:
    channel = make_channel(api)
    key, _ = open_with_lines(api, channel, lines=[])
    return _commit(channel, key)


def transition(to: str, *, first: str | None = None) -> Callable[[Api], Request]:
    def arrange(api: Api) -> Request:
        ref = import_order(api, make_channel(api))["ref"]
        if first:
            ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": first}})
        return TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": to}}
    return arrange


def transition_unknown_order(api: Api) -> Request:
    return TRANSITION_ORDER, "transitionOrder", {"input": {"ref": "ORD-NOPE", "status": "confirmed"}}


def custom_event_bad_type(api: Api) -> Request:
    ref = import_order(api, make_channel(api))["ref"]
    return ADD_ORDER_EVENT, "addOrderEvent", {"input": {"ref": ref, "type": "paid", "payload": {}}}


def import_empty(api: Api) -> Request:
    return IMPORT_ORDER, "importOrder", {"input": {"channelCode": make_channel(api), "externalRef": "X", "items": []}}


def import_bad_qty(api: Api) -> Request:
    return IMPORT_ORDER, "importOrder", {"input": {"channelCode": make_channel(api), "externalRef": "X", "items": [
        {"sku": "A", "qty": "1", "unitPriceQ": 1}, {"sku": "B", "qty": "-2", "unitPriceQ": 1}]}}


def fulfil_too_much(api: Api) -> Request:
    order = import_order(api, make_channel(api))
    line = order["items"][0]["lineId"]
    return CREATE_FULFILLMENT, "createFulfillment", {"input": {"orderRef": order["ref"],
                                                                "items": [{"lineId": line, "qty": "5"}]}}


def fulfil_unknown_order(api: Api) -> Request:
    return CREATE_FULFILLMENT, "createFulfillment", {"input": {"orderRef": "ORD-NOPE",
                                                                "items": [{"lineId": "L-1", "qty": "1"}]}}


def update_unknown_fulfillment(api: Api) -> Request:
    return UPDATE_FULFILLMENT, "updateFulfillment", {"input": {"ref": "FUL-NOPE", "status": "SHIPPED"}}


def channel_bad_config(api: Api) -> Request:
    return UPSERT_CHANNEL, "upsertChannel", {"input": {"code": "c1", "config": {"bogus": 1}}}


def channel_bad_code(api: Api) -> Request:
    return UPSERT_CHANNEL, "upsertChannel", {"input": {"code": "bad code!"}}


def retry_queued_directive(api: Api) -> Request:
    channel = make_channel(api, config={"post_commit_directives": ["notification.send"]})
    key, _ = open_with_lines(api, channel)
    ref = commit(api, channel, key)["result"]["orderRef"]
    directives = api.data("query($ref: String!) { order(ref: $ref) { directives { id status } } }",
                          {"ref": ref})["order"]["directives"]
    assert [d["status"] for d in directives] == ["QUEUED"]  # no dispatcher in API tests: it stays queued
    return RETRY_DIRECTIVE, "retryDirective", {"id": directives[0]["id"]}


def retry_unknown_directive(api: Api) -> Request:
    return RETRY_DIRECTIVE, "retryDirective", {"id": "987654"}


def price_without_sku(api: Api) -> Request:
    return SET_PRICES, "setPrices", {"input": [{"sku": "A", "unitPriceQ": 1}, {"sku": " ", "unitPriceQ": 1}]}


def price_negative(api: Api) -> Request:
    return SET_PRICES, "setPrices", {"input": [{"sku": "A", "unitPriceQ": -1}]}


def stock_negative(api: Api) -> Request:
    return SET_STOCK_LEVELS, "setStockLevels", {"input": [{"sku": "A", "qty": "-1"}]}


CASES: dict[str, tuple[Callable[[Api], Request], str, list[str] | None]] = {
    "open/unknown channel": (open_unknown_channel, "not_found", ["channelCode"]),
    "modify/unknown session": (modify_unknown_session, "not_found", ["sessionKey"]),
    "open/inactive channel": (open_inactive_channel, "channel_inactive", ["channelCode"]),
    "modify/committed": (modify_committed, "already_committed", ["sessionKey"]),
    "modify/abandoned": (modify_abandoned, "already_abandoned", ["sessionKey"]),
    "commit/abandoned": (commit_abandoned, "abandoned", ["sessionKey"]),
    "modify/locked": (modify_locked, "locked", ["ops"]),
    "modify/stale rev": (modify_stale_rev, "stale_rev", ["expectedRev"]),
    "modify/empty sku": (add_line(sku=" "), "missing_sku", ["ops", "1", "addLine", "sku"]),
    "modify/zero qty": (add_line(qty="0"), "invalid_qty", ["ops", "1", "addLine", "qty"]),
    "modify/4 decimals": (add_line(qty="1.2345"), "invalid_qty", ["ops", "1", "addLine", "qty"]),
    "modify/no price": (add_line(policy="EXTERNAL"), "missing_unit_price_q", ["ops", "1", "addLine", "unitPriceQ"]),
    "modify/negative price": (add_line(unitPriceQ=-1), "invalid_price", ["ops", "1", "addLine", "unitPriceQ"]),
    "modify/unknown line": (op_on_lines(lambda _: {"removeLine": {"lineId": "L-NOPE"}}), "unknown_line_id",
                            ["ops", "0", "removeLine", "lineId"]),
    "modify/system path": (op_on_lines(lambda _: {"setData": {"path": "checks.stock", "value": 1}}), "invalid_path",
                           ["ops", "0", "setData", "path"]),
    "modify/dunder path": (op_on_lines(lambda _: {"setData": {"path": "customer.__x", "value": 1}}), "invalid_path",
                           ["ops", "0", "setData", "path"]),
    "modify/merge into itself": (op_on_lines(lambda ids: {"mergeLines": {"fromLineId": ids[0], "intoLineId": ids[0]}}),
                                 "invalid_merge", ["ops", "0", "mergeLines", "intoLineId"]),
    "modify/merge other sku": (op_on_lines(lambda ids: {"mergeLines": {"fromLineId": ids[0], "intoLineId": ids[1]}}),
                               "sku_mismatch", ["ops", "0", "mergeLines", "fromLineId"]),
    "resolve/unknown session": (resolve_unknown_session, "session_not_found", ["sessionKey"]),
    "resolve/unknown issue": (resolve_unknown_issue, "issue_not_found", ["issueId"]),
    "resolve/no resolver": (resolve_without_resolver, "no_resolver", ["issueId"]),
    "resolve/unknown action": (resolve_unknown_action, "action_not_found", ["actionId"]),
    "resolve/stale action": (resolve_stale_action, "stale_action", ["actionId"]),
    "resolve/no ops": (resolve_action_without_ops, "no_ops", ["actionId"]),
    "commit/in progress": (commit_in_progress, "in_progress", ["idempotencyKey"]),
    "commit/key reused": (commit_reused_key, "idempotency_key_reused", ["idempotencyKey"]),
    "commit/missing check": (commit_missing_check, "missing_check", None),
    "commit/hold expired": (commit_expired_hold, "hold_expired", None),
    "commit/blocking issues": (commit_blocked, "blocking_issues", None),
    "commit/empty": (commit_empty, "empty_session", None),
    "transition/unknown order": (transition_unknown_order, "not_found", ["ref"]),
    "transition/terminal": (transition("confirmed", first="cancelled"), "terminal_status", ["status"]),
    "transition/not allowed": (transition("completed"), "invalid_transition", ["status"]),
    "event/bad type": (custom_event_bad_type, "invalid_event_type", ["type"]),
    "import/no lines": (import_empty, "empty_session", ["items"]),
    "import/bad qty": (import_bad_qty, "invalid_qty", ["items", "1", "qty"]),
    "fulfillment/too much": (fulfil_too_much, "over_fulfillment", ["items", "0", "qty"]),
    "fulfillment/unknown order": (fulfil_unknown_order, "not_found", ["orderRef"]),
    "fulfillment/unknown": (update_unknown_fulfillment, "not_found", ["ref"]),
    "channel/bad config": (channel_bad_config, "invalid_config", ["config", "bogus"]),
    "channel/bad code": (channel_bad_code, "invalid_input", ["code"]),
    "directive/not failed": (retry_queued_directive, "directive_not_runnable", ["id"]),
    "directive/unknown": (retry_unknown_directive, "not_found", ["id"]),
    "prices/blank sku": (price_without_sku, "missing_sku", ["input", "1", "sku"]),
    "prices/negative": (price_negative, "invalid_price", ["input", "0", "unitPriceQ"]),
    "stock/negative": (stock_negative, "invalid_qty", ["input", "0", "qty"]),
}

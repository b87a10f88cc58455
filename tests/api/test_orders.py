"""Orders over HTTP: the full status life, imports, fulfillments, custom events, connections and their cost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.fixtures.app import Api

from .operations import (
    ADD_ORDER_EVENT,
    CREATE_FULFILLMENT,
    IMPORT_ORDER,
    ORDER,
    ORDERS,
    TRANSITION_ORDER,
    UPDATE_FULFILLMENT,
    import_order,
    make_channel,
    ok,
)

LIFE = ["confirmed", "processing", "ready", "dispatched", "delivered", "completed"]
STAMPS = {"confirmed": "confirmedAt", "processing": "processingAt", "ready": "readyAt", "dispatched": "dispatchedAt",
          "delivered": "deliveredAt", "completed": "completedAt"}
LIST_WITH_RELATIONS = """query($first: Int!) { orders(first: $first) { edges { node {
  items { sku } events { type } channel { code } } } } }"""
LIST_WITH_EVERYTHING = """query($first: Int!) { orders(first: $first) { edges { node {
  items { sku qty } events { type actor } channel { code name } allowedTransitions
  fulfillments { ref items { lineId } } directives { topic status } refs { type value } } } } }"""


def test_order_lives_from_new_to_completed_with_timestamps_and_events(api: Api) -> None:
    order = import_order(api, make_channel(api))
    assert order["status"] == "new" and order["allowedTransitions"] == ["confirmed", "cancelled"]
    seen: dict[str, str] = {}
    for status in LIFE:
        variables = {"input": {"ref": order["ref"], "status": status}}
        order = ok(api, TRANSITION_ORDER, "transitionOrder", variables)["order"]
        assert order["status"] == status
        seen[status] = order[STAMPS[status]]
        assert all(order[STAMPS[s]] == seen[s] for s in seen), "a status timestamp is set once and kept"
    stamps = [dt.datetime.fromisoformat(seen[s]) for s in LIFE]
    assert stamps == sorted(stamps) and all(s.tzinfo is not None for s in stamps)
    assert order["cancelledAt"] is None and order["allowedTransitions"] == []
    changes = [e["payload"] for e in order["events"] if e["type"] == "status_changed"]
    assert changes == [{"old_status": old, "new_status": new} for old, new in zip(["new", *LIFE], LIFE, strict=False)]
    assert {e["actor"] for e in order["events"]} == {"test-admin"}  # the token's name


def test_import_twice_gives_one_order(api: Api) -> None:
    channel = make_channel(api, pricingPolicy="EXTERNAL", editPolicy="LOCKED")
    variables = {"input": {"channelCode": channel, "externalRef": "IFOOD-123", "data": {"customer": {"name": "Ana"}},
                           "items": [{"sku": "PIZZA", "qty": "1", "unitPriceQ": 4990, "name": "Pizza"}]}}
    first = ok(api, IMPORT_ORDER, "importOrder", variables)
    second = ok(api, IMPORT_ORDER, "importOrder", variables)
    assert first["created"] is True and second["created"] is False
    assert second["order"]["ref"] == first["order"]["ref"] and first["order"]["externalRef"] == "IFOOD-123"
    assert first["order"]["totalQ"] == 4990
    edges = api.data(ORDERS, {"first": 10, "channelCode": channel})["orders"]["edges"]
    assert [e["node"]["ref"] for e in edges] == [first["order"]["ref"]]


def test_custom_events_are_appended_with_the_actor(api: Api) -> None:
    ref = import_order(api, make_channel(api))["ref"]
    body = ok(api, ADD_ORDER_EVENT, "addOrderEvent",
              {"input": {"ref": ref, "type": "custom.table_moved", "payload": {"from": 5, "to": 7}}})
    assert body["order"]["events"][-1] == {"type": "custom.table_moved", "actor": "test-admin",
                                           "payload": {"from": 5, "to": 7}}


def test_fulfillments_split_an_order_and_move_along(api: Api) -> None:
    order = import_order(api, make_channel(api), lines=[("BOX", "3", 100)])
    line = order["items"][0]["lineId"]
    first = ok(api, CREATE_FULFILLMENT, "createFulfillment",
               {"input": {"orderRef": order["ref"], "items": [{"lineId": line, "qty": "2"}], "carrier": "Moto"}})
    assert first["fulfillment"]["status"] == "PENDING"
    assert first["fulfillment"]["items"] == [{"lineId": line, "qty": "2"}]
    shipped = ok(api, UPDATE_FULFILLMENT, "updateFulfillment", {"input": {
        "ref": first["fulfillment"]["ref"], "status": "SHIPPED", "trackingCode": "BR123"}})["fulfillment"]
    assert shipped["status"] == "SHIPPED" and shipped["trackingCode"] == "BR123" and shipped["shippedAt"]
    rest = api(CREATE_FULFILLMENT, {"input": {"orderRef": order["ref"], "items": [{"lineId": line, "qty": "2"}]}})
    assert rest["data"]["createFulfillment"]["errors"][0]["code"] == "over_fulfillment"
    ok(api, CREATE_FULFILLMENT, "createFulfillment",
       {"input": {"orderRef": order["ref"], "items": [{"lineId": line, "qty": "1"}]}})
    read = api.data(ORDER, {"ref": order["ref"]})["order"]
    assert [f["status"] for f in read["fulfillments"]] == ["SHIPPED", "PENDING"]


def test_order_directives_show_the_side_effects(api: Api) -> None:
    channel = make_channel(api, config={"post_commit_directives": ["notification.send"]})
    ref = import_order(api, channel)["ref"]
    directives = api.data(ORDER, {"ref": ref})["order"]["directives"]
    assert [(d["topic"], d["status"], d["orderRef"]) for d in directives] == [("notification.send", "QUEUED", ref)]


def test_pagination_walks_120_orders_in_pages_of_50_without_gap_or_duplicate(api: Api) -> None:
    channel = make_channel(api)
    created = [import_order(api, channel, f"EXT-{i:03}", lines=[("A", "1", 1)])["ref"] for i in range(120)]
    seen: list[str] = []
    sizes: list[int] = []
    after = None
    while True:
        page = api.data(ORDERS, {"first": 50, "after": after})["orders"]
        sizes.append(len(page["edges"]))
        seen.extend(edge["node"]["ref"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert sizes == [50, 50, 20]
    assert seen == list(reversed(created)), "newest first, every order exactly once"


def test_pages_are_stable_when_orders_arrive_between_pages(api: Api) -> None:
    channel = make_channel(api)
    old = [import_order(api, channel, lines=[("A", "1", 1)])["ref"] for _ in range(6)]
    first = api.data(ORDERS, {"first": 3})["orders"]
    newer = import_order(api, channel, lines=[("A", "1", 1)])["ref"]
    second = api.data(ORDERS, {"first": 3, "after": first["pageInfo"]["endCursor"]})["orders"]
    refs = [e["node"]["ref"] for e in first["edges"] + second["edges"]]
    assert refs == list(reversed(old)) and newer not in refs
    assert second["pageInfo"]["hasNextPage"] is False


def test_orders_filter_by_channel_and_status(api: Api) -> None:
    pos, web = make_channel(api), make_channel(api)
    a = import_order(api, pos)["ref"]
    b = import_order(api, web)["ref"]
    ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": b, "status": "confirmed"}})
    refs = lambda **f: [e["node"]["ref"] for e in api.data(ORDERS, {"first": 10, **f})["orders"]["edges"]]  # noqa: E731
    assert refs(channelCode=pos) == [a]
    assert refs(status="confirmed") == [b]
    assert refs(channelCode=pos, status="confirmed") == []


@pytest.mark.parametrize(("variables", "message"), [
    ({"first": 101}, "`first` must be between 1 and 100"),
    ({"first": 0}, "`first` must be between 1 and 100"),
    ({"first": 5, "after": "not-a-cursor"}, "`after` is not a cursor"),
])
def test_bad_page_arguments_are_clear_errors(api: Api, variables: dict[str, Any], message: str) -> None:
    result = api(ORDERS, variables)
    assert result["errors"][0]["message"].startswith(message), result
    assert result["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


@contextmanager
def counting_statements(api: Api) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The token's lookup is once per request at most, and only when the process's token cache has expired (2 s,
        # which a loaded machine can cross between two requests): not what an N+1 count is about.
        if "api_tokens" not in statement:
            statements.append(statement)

    engine = api.hub.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_no_n_plus_1_listing_orders_with_items_events_and_channel(api: Api) -> None:
    channels = [make_channel(api) for _ in range(3)]
    for i in range(60):
        import_order(api, channels[i % 3], lines=[("A", "1", 1), ("B", "2", 3)])
    costs: dict[tuple[str, int], int] = {}
    for name, query in (("spec", LIST_WITH_RELATIONS), ("everything", LIST_WITH_EVERYTHING)):
        # 30, not 50: fifty orders with every relation could return more objects than OMNIMAN_MAX_QUERY_COST allows
        for first in (5, 30):
            with counting_statements(api) as statements:
                edges = api.data(query, {"first": first})["orders"]["edges"]
            assert len(edges) == first and all(len(e["node"]["items"]) == 2 for e in edges)
            costs[(name, first)] = len(statements)
    print(f"SQL statements per request: {costs}")
    assert costs[("spec", 30)] <= costs[("spec", 5)], costs
    assert costs[("everything", 30)] <= costs[("everything", 5)], costs

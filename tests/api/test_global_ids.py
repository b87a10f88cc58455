"""Global ids: `id` on every cached type, `node(id:)` with the rights of the typed queries, malformed ids refused,
and the normalised-cache contract (a mutation's payload carries the same id as the list it updates)."""

from __future__ import annotations

import base64
import uuid

from sqlalchemy import select, update
from sqlmodel import col
from starlette.testclient import TestClient

from omniman_gql.models import Directive
from tests.fixtures.app import Api
from tests.graphql import create_token, gql

from .operations import CREATE_FULFILLMENT, RETRY_DIRECTIVE, commit, make_channel, ok, open_with_lines

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Channel { code } ... on Session { sessionKey channelCode } ... on Order { ref }
  ... on Fulfillment { ref } ... on Directive { topic } ... on ApiToken { name } ... on Customer { code } } }"""
ORDER_IDS = """query($ref: String!) { order(ref: $ref) { id ref channel { id code }
  fulfillments { id ref } customer { id code } directives { id topic } } }"""
SESSION_ID = """query($c: String!, $k: String!) { session(channelCode: $c, sessionKey: $k) { id sessionKey } }"""
TOKENS = "{ tokens { id name } }"
ORDERS = """query($channel: String) { orders(channelCode: $channel) { edges { node { id ref status } } } }"""
TRANSITION = """mutation($input: TransitionOrderInput!) { transitionOrder(input: $input) {
  order { id ref status } errors { code } } }"""
UPSERT_CUSTOMER = "mutation($i: CustomerInput!) { upsertCustomer(input: $i) { customer { id code } errors { code } } }"
SET_CUSTOMER = """mutation($input: ModifySessionInput!) { modifySession(input: $input) { errors { code } } }"""


def node(api: Api, value: str, **kwargs: object) -> dict[str, object]:
    return api(NODE, {"id": value}, **kwargs)  # type: ignore[arg-type]


def committed_order(api: Api, channel: str) -> str:
    key, _ = open_with_lines(api, channel)
    return str(commit(api, channel, key)["result"]["orderRef"])


NOTIFY = {"post_commit_directives": ["notification.send"]}


def test_every_cached_type_has_an_id_that_node_fetches_again(api: Api) -> None:
    channel = make_channel(api, config=NOTIFY)
    ok(api, UPSERT_CUSTOMER, "upsertCustomer", {"i": {"code": f"c-{uuid.uuid4().hex[:6]}", "name": "Ana"}})
    key, lines = open_with_lines(api, channel)
    ref = str(commit(api, channel, key)["result"]["orderRef"])
    ok(api, CREATE_FULFILLMENT, "createFulfillment", {"input": {"orderRef": ref, "items": [
        {"lineId": lines[0], "qty": "1"}]}})
    order = api.data(ORDER_IDS, {"ref": ref})["order"]
    session = api.data(SESSION_ID, {"c": channel, "k": key})["session"]
    token = api.data(TOKENS)["tokens"][0]
    customer_id = api.data("{ customers(first: 1) { edges { node { id code } } } }")["customers"]["edges"][0]["node"]
    objects = [({"__typename": "Order", "ref": ref}, order["id"]),
               ({"__typename": "Channel", "code": channel}, order["channel"]["id"]),
               ({"__typename": "Fulfillment", "ref": order["fulfillments"][0]["ref"]}, order["fulfillments"][0]["id"]),
               ({"__typename": "Directive", "topic": order["directives"][0]["topic"]}, order["directives"][0]["id"]),
               ({"__typename": "Session", "sessionKey": key, "channelCode": channel}, session["id"]),
               ({"__typename": "ApiToken", "name": token["name"]}, token["id"]),
               ({"__typename": "Customer", "code": customer_id["code"]}, customer_id["id"])]
    ids = [value for _, value in objects]
    assert len(set(ids)) == len(ids)  # distinct across types
    for expected, value in objects:
        assert api.data(NODE, {"id": value})["node"] == {**expected, "id": value}


def test_transition_payload_carries_the_id_of_the_listed_order(api: Api) -> None:
    """What Apollo's and urql's normalised caches need: the same `id` (with `__typename`) in the list and in a
    mutation's payload, so the payload's status lands on the listed entry with a plain cache."""
    channel = make_channel(api)
    ref = committed_order(api, channel)
    listed = api.data(ORDERS, {"channel": channel})["orders"]["edges"][0]["node"]
    moved = ok(api, TRANSITION, "transitionOrder", {"input": {"ref": ref, "status": "confirmed"}})["order"]
    assert listed["ref"] == moved["ref"] == ref and listed["status"] == "new" and moved["status"] == "confirmed"
    assert moved["id"] == listed["id"]
    assert api.data(ORDERS, {"channel": channel})["orders"]["edges"][0]["node"] == moved


def test_node_gives_a_client_token_only_what_its_typed_queries_give(api: Api, client: TestClient) -> None:
    mine, theirs = make_channel(api, config=NOTIFY), make_channel(api)
    my_ref, their_ref = committed_order(api, mine), committed_order(api, theirs)
    mine_ids = api.data(ORDER_IDS, {"ref": my_ref})["order"]
    theirs_ids = api.data(ORDER_IDS, {"ref": their_ref})["order"]
    till = create_token(client, "client", [mine], name=f"till-{uuid.uuid4().hex[:4]}")

    def as_till(value: str) -> dict[str, object]:
        return gql(client, NODE, {"id": value}, token=till)

    assert as_till(mine_ids["id"])["data"]["node"]["ref"] == my_ref
    assert as_till(mine_ids["channel"]["id"])["data"]["node"]["code"] == mine
    assert as_till(theirs_ids["id"]) == {"data": {"node": None}}
    assert as_till(theirs_ids["channel"]["id"]) == {"data": {"node": None}}
    assert gql(client, "query($r: String!) { order(ref: $r) { ref } }", {"r": their_ref}, token=till) == {
        "data": {"order": None}}  # the typed query answers the same
    refused = as_till(mine_ids["directives"][0]["id"])  # directives are admin only, by id as in a list
    assert refused["data"] == {"node": None} and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    display = create_token(client, "display", [theirs], name=f"kds-{uuid.uuid4().hex[:4]}")
    assert gql(client, NODE, {"id": theirs_ids["id"]}, token=display)["data"]["node"]["ref"] == their_ref
    assert gql(client, NODE, {"id": mine_ids["id"]}, token=display) == {"data": {"node": None}}


def test_malformed_ids_are_bad_user_input_and_unknown_ones_null(api: Api) -> None:
    def b64(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    for bad in ["nope!", "", b64("Nothing:1"), b64("Order"), b64("Session:only-one-part"), "x" * 600, "%%%",
                b64("Order:%ff")]:
        result = node(api, bad)
        assert result["data"] == {"node": None}, bad
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", bad
    assert api.data(NODE, {"id": b64("Order:ORD-20260101-NOPE")}) == {"node": None}
    assert api.data(NODE, {"id": b64("Directive:abc")}) == {"node": None}
    assert api(NODE, {"id": "nope"}, headers={"Authorization": "Bearer wrong"})["errors"][0]["extensions"][
        "code"] == "UNAUTHENTICATED"


def test_directive_mutations_take_the_global_id_and_the_bare_number(api: Api) -> None:
    channel = make_channel(api, config=NOTIFY)
    ref = committed_order(api, channel)
    directive = api.data(ORDER_IDS, {"ref": ref})["order"]["directives"][0]

    async def fail_all() -> int:
        async with api.hub.transaction() as uow:
            await uow.db.execute(update(Directive).where(col(Directive.order_ref) == ref).values(status="failed"))
            return int((await uow.db.execute(select(col(Directive.id)).where(col(Directive.order_ref) == ref)))
                       .scalar_one())

    number = api.run(fail_all)
    retried = ok(api, RETRY_DIRECTIVE, "retryDirective", {"id": directive["id"]})["directive"]
    assert retried["id"] == directive["id"] and retried["status"] == "QUEUED"
    api.run(fail_all)
    again = ok(api, RETRY_DIRECTIVE, "retryDirective", {"id": str(number)})["directive"]  # the bare number still works
    assert again["id"] == directive["id"] and again["status"] == "QUEUED"
    order_id = api.data(ORDER_IDS, {"ref": ref})["order"]["id"]  # another type's id names no directive
    assert api(RETRY_DIRECTIVE, {"id": order_id})["data"]["retryDirective"]["errors"][0]["code"] == "not_found"

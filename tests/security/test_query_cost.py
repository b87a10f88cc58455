"""The document cost limit (`OMNIMAN_MAX_QUERY_COST`): the cost counted as concepts §18 says (fragments expanded,
aliases each, pages from literals, variables and defaults), and a document over the limit refused before anything
runs, over HTTP and websockets, with and without the accelerators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from starlette.testclient import TestClient

from omniman_gql.settings import Settings
from schema.asgi import create_app
from schema.build import build_schema
from schema.document_cost import Costing, cost_message
from tests.api.operations import make_channel
from tests.fixtures.app import Api
from tests.graphql import authorize, gql
from tests.stream.wsclient import GraphQLWs

SCHEMA = build_schema()._schema
DASHBOARD = "{ orders(first: 25) { edges { node { ref items { sku } events { type } } } } }"
# 1 connection + n edges + n orders + 10n lines + 10n events: 1 + 22n
BY_VARIABLE = """query($n: Int) { orders(first: $n) { edges { node { ref items { sku } events { type } } } } }"""
WITH_DEFAULT = """query($n: Int = 23) { orders(first: $n) { edges { node { items { sku } events { type } } } } }"""
BY_FRAGMENT = """query($n: Int) { orders(first: $n) { ...Page } }
fragment Page on OrderConnection { edges { node { ...Lines events { type } } } }
fragment Lines on Order { items { sku } }"""
LITERAL = "query { orders(first: 23) { edges { node { items { sku } events { type } } } } }"
TIGHT = 500  # 22 orders (485) pass, 23 (507) do not
OPEN = """mutation($key: String!) { openSession(input: {channelCode: "pos", sessionKey: $key}) {
  session { items { lineId } issues { id } } errors { code } } }"""  # 1 + 1 + 10 + 10 + 10 = 32
SESSION = """query($key: String!) { session(channelCode: "pos", sessionKey: $key) { sessionKey } }"""


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    """The cost of a document's only operation, the variables given (None: unknown, their defaults)."""
    ast = parse(document)
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    [operation] = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    return Costing(SCHEMA, fragments.get, variables).operation(operation)


@pytest.mark.parametrize(("document", "expected"), [
    (DASHBOARD, 551),  # the spec's "≈ 525": the connection, 25 edges, 25 orders, 250 lines, 250 events
    ("{ channels { code } }", 10),  # a list without a page counts 10
    ("{ orders { edges { cursor } } }", 26),  # the page default (25), counted once on `edges`, not again
    ("{ orders(first: null) { edges { cursor } pageInfo { hasNextPage } } }", 27),  # null: the default
    ("{ orders(first: 3) { edges { node { ref } } } }", 7),
    ("{ a: orders(first: 3) { edges { node { ref } } } b: orders(first: 3) { edges { node { ref } } } }", 14),
    ("{ __typename channels { __typename code name } }", 10),  # scalars belong to their objects
    ("{ __schema { types { name fields { name } } } }", 1),  # introspection: the schema's size, not the client's
    ("{ orders(first: 3) { ... on OrderConnection { edges { node { ref } } } } }", 7),  # inline fragments
    ("query { ...Q } fragment Q on Query { orders(first: 3) { ...C } } "
     "fragment C on OrderConnection { edges { node { ref } } }", 7),  # named ones, the page inherited
    ("{ orders(first: 2) { edges { node { fulfillments { items { lineId } } } } } }", 1 + 2 * (1 + 1 + 10 * 11)),
])
def test_cost_counts_the_objects_a_document_could_return(document: str, expected: int) -> None:
    assert cost(document) == expected


def test_cost_of_fragments_multiplies_without_walking_each_copy() -> None:
    # Each fragment spreads the next twice: 2^60 copies of `channels`, counted in 60 steps.
    levels = 60
    document = "query { ...F0 } " + " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} a{i}: __typename ...F{i + 1} }}" for i in range(levels)
    ) + f" fragment F{levels} on Query {{ channels {{ code }} }}"
    assert cost(document) == 10 * 2**levels
    assert "more than 1,000,000,000,000,000 objects" in cost_message(10 * 2**levels, 5000)


def test_cost_of_cyclic_fragments_ends() -> None:
    assert cost("query { ...F } fragment F on Query { channels { code } ...G } fragment G on Query { ...F }") == 10


@pytest.mark.parametrize(("variables", "expected"), [
    ({"n": 5}, 1 + 22 * 5), ({}, 1 + 22 * 25), ({"n": None}, 1 + 22 * 25), (None, 1 + 22 * 25),
])
def test_cost_reads_pages_from_variables_else_the_arguments_default(variables: dict[str, Any] | None,
                                                                     expected: int) -> None:
    assert cost(BY_VARIABLE, variables) == expected
    assert cost(BY_FRAGMENT, variables) == expected


def test_the_message_says_the_cost_and_the_limit() -> None:
    assert cost_message(12_345, 5_000) == (
        "This document could return up to 12,345 objects; the limit is 5,000 (OMNIMAN_MAX_QUERY_COST): ask for "
        "smaller pages or fewer fields.")


@pytest.fixture(params=[True, False], ids=["accelerated", "stock"])
def tight(request: pytest.FixtureRequest, settings: Settings) -> Iterator[TestClient]:
    """A client of an app whose cost limit is `TIGHT`, accelerators on, then off."""
    limited = settings.model_copy(update={"accelerate": request.param, "max_query_cost": TIGHT})
    with TestClient(create_app(limited, run_directives=False)) as client:
        authorize(client)
        make_channel(Api(client), code="pos")
        yield client


def refused(result: dict[str, Any], objects: int) -> None:
    """Refused with the limit's message alone: no resolver ran (one would have added its own error or data)."""
    assert result["data"] is None, result
    assert [e["message"] for e in result["errors"]] == [cost_message(objects, TIGHT)], result


@pytest.mark.parametrize(("document", "variables", "objects"), [
    (LITERAL, {}, 507),  # refused by the validation rule
    (BY_VARIABLE, {"n": 23}, 507),  # by the executor, with the value sent
    (BY_FRAGMENT, {"n": 23}, 507),
    (BY_VARIABLE, {}, 551),  # no value: the argument's default (25)
    (BY_VARIABLE, {"n": None}, 551),
    (WITH_DEFAULT, {}, 507),  # the operation's own default
    (BY_VARIABLE, {"n": 1000}, 22_001),  # the resolver would have refused the page size itself
])
def test_over_the_limit_nothing_runs(tight: TestClient, document: str, variables: dict[str, Any],
                                     objects: int) -> None:
    refused(gql(tight, document, variables), objects)


@pytest.mark.parametrize(("document", "variables"), [
    (BY_VARIABLE, {"n": 22}), (BY_FRAGMENT, {"n": 22}), (WITH_DEFAULT, {"n": 22}),
    ("query { orders(first: 22) { edges { node { items { sku } events { type } } } } }", {}),
])
def test_under_the_limit_it_runs(tight: TestClient, document: str, variables: dict[str, Any]) -> None:
    assert gql(tight, document, variables) == {"data": {"orders": {"edges": []}}}


def test_a_mutation_over_the_limit_changes_nothing(settings: Settings) -> None:
    limited = settings.model_copy(update={"max_query_cost": 31})
    with TestClient(create_app(limited, run_directives=False)) as client:
        authorize(client)
        make_channel(Api(client), code="pos")
        result = gql(client, OPEN, {"key": "K-1"})
        assert result == {"data": None, "errors": [
            {"message": cost_message(32, 31), "locations": [{"line": 1, "column": 1}],
             "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}  # refused before anything ran
        assert gql(client, SESSION, {"key": "K-1"}) == {"data": {"session": None}}  # no session was opened
        assert "errors" not in gql(client, OPEN.replace("issues { id } ", ""), {"key": "K-1"})  # 22: it runs


def test_get_and_websocket_are_limited_too(tight: TestClient) -> None:
    answer = tight.get("/graphql", params={"query": BY_VARIABLE, "variables": '{"n": 23}'}).json()
    refused(answer, 507)
    # No page in a subscription: each list counts 10. 1 + 1 + 5 × (10 fulfillments × (1 + 10 lines)) = 552
    fulfillments = " ".join(f"f{i}: fulfillments {{ items {{ lineId }} }}" for i in range(5))
    with tight.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        ws = GraphQLWs(raw)
        ws.init()
        ws.subscribe("1", f"subscription {{ orderEvents {{ order {{ {fulfillments} }} }} }}")
        message = ws.message("1")
        assert message["type"] == "error", message
        assert [e["message"] for e in message["payload"]] == [cost_message(552, TIGHT)]

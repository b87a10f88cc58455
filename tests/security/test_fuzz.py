"""The API fuzzed from the checked-in schema (schemathesis): every query and mutation with generated arguments, valid
and invalid, as an admin. Nothing may come back as a 5xx or an INTERNAL_SERVER_ERROR, and nothing may leak internals.

A few hundred cases by default (`OMNIMAN_FUZZ_EXAMPLES` for more); deterministic unless `OMNIMAN_FUZZ_RANDOM` is set,
so CI never fails on a case it has not seen before without telling how to reproduce it.
"""

from __future__ import annotations

import os
from pathlib import Path

import graphql
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.graphql import nodes
from starlette.testclient import TestClient

from tests.api.operations import import_order, make_channel, open_with_lines
from tests.fixtures.app import Api

from .test_hostile import LEAKS

KEYS = st.sampled_from(["notes", "customer", "delivery", "payment", "table", "terminology", "order_flow", "checks",
                        "post_commit_directives", "transitions", "initial_status", "x", "__proto__"]) | \
    st.from_regex(r"\A[_A-Za-z][_0-9A-Za-z]{0,12}\Z")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12)


def json_node(value: object) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal (the JSON scalar accepts any)."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([json_node(v) for v in value])
    assert isinstance(value, dict)
    return nodes.Object([graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=json_node(v))
                         for k, v in value.items()])


# The hub's own scalars: quantities as decimal strings (and now and then something that is not one), any JSON.
schemathesis.graphql.scalar("Decimal", (st.decimals(allow_nan=False, allow_infinity=False, places=3).map(
    lambda d: format(d, "f")) | st.text(max_size=8)).map(nodes.String))
schemathesis.graphql.scalar("JSON", JSON_VALUES.map(json_node))

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"
SCHEMA = schemathesis.graphql.from_path(SDL)
EXAMPLES = int(os.environ.get("OMNIMAN_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize="OMNIMAN_FUZZ_RANDOM" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_fuzzed_operations_never_fail_internally(api: Api, client: TestClient, mode: GenerationMode) -> None:
    # Some real rows, so generated references sometimes meet something.
    channel = make_channel(api, code="pos")
    open_with_lines(api, channel)
    import_order(api, channel)
    seen: set[str] = set()

    @FUZZ
    @given(case=SCHEMA.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        seen.add(case.operation.label)
        response = client.post("/graphql", json=SCHEMA.prepare_request_body(case))
        assert response.status_code < 500, (case.body, response.text)
        assert "INTERNAL_SERVER_ERROR" not in response.text, (case.body, response.text)
        sent = str(case.body).lower()  # graphql-core quotes a refused input back: what the client sent is no leak
        leaks = [m.group(0) for m in LEAKS.finditer(response.text) if m.group(0).lower() not in sent]
        assert not leaks, (case.body, response.text)

    call()
    assert len(seen) > 10, seen  # the cases spread over the operations

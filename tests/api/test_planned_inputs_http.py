"""Planned execution over HTTP on the real app, and planned input objects (schema.accel_strawberry.inputs): the same
answers and objects as Strawberry's own path (the cases: tests/api/planned_cases.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import OperationDefinitionNode, get_variable_values, parse
from hypothesis import given
from hypothesis import strategies as st
from strawberry.types.arguments import convert_argument

from schema.build import OmnimanSchema
from tests.api.operations import make_channel
from tests.api.planned_cases import (
    CHECKOUT,
    GENERATED,
    SCHEMA,
    VARIABLES,
    WITH_INPUT,
    LineInput,
    OpInput,
    RunInput,
    list_of,
    use_plans,
)
from tests.fixtures.app import Api
from tests.graphql import create_token

# ---------------------------------------------------------------------------------------------------------------------
# the real app: the checkout's documents over HTTP, planned or not, with the errors a client can cause


def _graphql_schema(api: Api) -> OmnimanSchema:
    route = next(route for route in api.client.app.router.routes if getattr(route, "path", "") == "/graphql")
    return route.endpoint.schema  # type: ignore[attr-defined, no-any-return]


def _both_ways(api: Api, steps: Callable[[str], list[tuple[str, dict[str, Any], dict[str, str]]]]) -> None:
    """Run `steps(suffix)` planned and not (own session keys each time): the same status and JSON but for the keys."""
    schema = _graphql_schema(api)
    seen = []
    for planned in (True, False):
        suffix = "planned" if planned else "stock"
        use_plans(schema, planned)
        try:
            answers = []
            for query, variables, headers in steps(suffix):
                response = api.client.post("/graphql", json={"query": query, "variables": variables},
                                           headers=headers)
                answers.append((response.status_code, response.text.replace(suffix, "*")))
        finally:
            use_plans(schema, True)
        seen.append(answers)
    assert seen[0] == seen[1]


def test_checkout_errors_over_http_are_the_same(api: Api) -> None:
    channel = make_channel(api)
    other = make_channel(api)
    staff = {"Authorization": f"Bearer {create_token(api.client, 'display', channels=[channel])}"}
    scoped = {"Authorization": f"Bearer {create_token(api.client, 'client', channels=[other])}"}
    unknown = {"Authorization": "Bearer omn_unknown"}
    open_, modify, commit = CHECKOUT

    def steps(suffix: str) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
        key = f"S-{suffix}"
        ref = {"channelCode": channel, "sessionKey": key}
        line = {"addLine": {"sku": "COFFEE", "qty": "2", "unitPriceQ": 550}}
        return [
            (open_, {"input": ref}, unknown),  # UNAUTHENTICATED
            (open_, {"input": ref}, staff),  # FORBIDDEN (a display may not write)
            (open_, {"input": ref}, scoped),  # another channel's token: not_found
            (open_, {"input": {"channelCode": "no-such-channel", "sessionKey": key}}, {}),
            (open_, {"input": {"sessionKey": key}}, {}),  # a required field missing: coercion error
            (open_, {}, {}),
            (open_, {"input": ref}, {}),
            (open_, {"input": ref}, {}),  # get-or-open: the same session again
            (modify, {"input": {**ref, "ops": [line]}}, {}),
            (modify, {"input": {**ref, "ops": [{"addLine": {"sku": "X", "qty": "zero"}}]}}, {}),
            (modify, {"input": {**ref, "ops": [{**line, "removeLine": {"lineId": "L-1"}}]}}, {}),  # @oneOf
            (modify, {"input": {**ref, "expectedRev": 7, "ops": [line]}}, {}),  # stale_rev
            (modify, {"input": {**ref, "rev": 7, "ops": [line]}}, {}),  # an unknown field
            (modify, {"input": {**ref, "sessionKey": "S-none", "ops": [line]}}, {}),
            (commit, {"input": {**ref, "idempotencyKey": "k"}}, scoped),
            (commit, {"input": {**ref, "sessionKey": "S-none", "idempotencyKey": "k"}}, {}),
        ]

    _both_ways(api, steps)


# ---------------------------------------------------------------------------------------------------------------------
# input objects: the planned conversion (schema.accel_strawberry.inputs) builds what Strawberry builds, same paths


def _convert_input(value: dict[str, Any], *, planned: bool) -> tuple[str, list[tuple[Any, ...]]]:
    """repr of `RunInput` built from a coerced `value`, and the paths LineInput's from_input was called with."""
    definitions = [cls.__strawberry_definition__ for cls in (RunInput, OpInput)]  # type: ignore[attr-defined]
    line = LineInput.__strawberry_definition__  # type: ignore[attr-defined]
    saved = [d.from_input for d in (*definitions, line)]
    paths: list[tuple[Any, ...]] = []

    def recording(cls: type, item: Any, context: Any) -> Any:
        paths.append(context.path)
        return saved[-1](cls, item, context)

    try:
        if not planned:
            for definition in definitions:
                definition.from_input = None
        line.from_input = recording
        built = convert_argument(value, RunInput, SCHEMA.schema_converter.scalar_registry, SCHEMA.config,
                                 path=("input",))
    finally:
        for definition, from_input in zip((*definitions, line), saved, strict=True):
            definition.from_input = from_input
    return repr(built), paths


VALID_LINE = st.fixed_dictionaries({"sku": st.text(max_size=3), "qty": st.sampled_from(["1", "2.5", "0.001"])},
                                   optional={"price": st.integers(-9, 9) | st.none(),
                                             "meta": st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)})
VALID_OP = st.fixed_dictionaries({"add": VALID_LINE}) | st.fixed_dictionaries({"remove": st.text(max_size=3)})
VALID_INPUT = st.fixed_dictionaries({"n": st.integers(-9, 9)}, optional={
    "s": st.text(max_size=3) | st.none(), "color": st.sampled_from(["RED", "GREEN"]),
    "ops": list_of(VALID_OP) | st.none(), "grid": list_of(list_of(st.integers(-9, 9) | st.none()) | st.none())})


@GENERATED
@given(variables=st.fixed_dictionaries({"input": VALID_INPUT}) | VARIABLES)
def test_planned_input_conversion_matches_strawberrys(variables: dict[str, Any]) -> None:
    operation = parse(WITH_INPUT).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    coerced = get_variable_values(SCHEMA._schema, operation.variable_definitions, variables)
    if isinstance(coerced, list) or "input" not in coerced.coerced:
        return
    value = coerced.coerced["input"]
    assert _convert_input(value, planned=True) == _convert_input(value, planned=False)

"""Planned execution (schema.accel_graphql_core) answers exactly as graphql-core's own: the same data, errors
(messages, paths, locations, codes, masking), nulls and resolver calls, for many documents and many broken values
(the cases: tests/api/planned_cases.py)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import hypothesis_graphql
import pytest
from graphql import OperationDefinitionNode, get_variable_values, parse
from hypothesis import given
from hypothesis import strategies as st
from strawberry.http import process_result

from omniman_gql.settings import Settings
from schema.accel_graphql_core import PlannedExecutor, coerce_planned, plan_operation, plan_variables
from schema.accel_strawberry.planning import basic_attribute
from schema.build import build_schema
from tests.api.planned_cases import (
    CHECKOUT,
    CHECKOUT_VARIABLES,
    DEFECTS,
    EVERYTHING,
    GENERATED,
    NOT_PLANNED,
    PLANNED,
    ROOT_CASES,
    SCHEMA,
    SDL,
    TAGGED,
    VARIABLES,
    WITH_INPUT,
    assert_same,
    execute,
    good,
    is_planned,
    use_plans,
    with_defect,
)


@pytest.mark.parametrize("query", PLANNED)
def test_simple_mutations_are_planned(query: str) -> None:
    assert is_planned(query)


@pytest.mark.parametrize("query", NOT_PLANNED)
def test_other_operations_are_not_planned(query: str) -> None:
    assert not is_planned(query)


def test_a_value_of_the_wrong_type_for_an_interface_implementer_is_answered_by_graphql_core() -> None:
    """Strawberry's is_type_of (a type implementing an interface, like the hub's `Node` types) is asked on the
    planned path too: a value it refuses is completed by graphql-core, whose error both paths then give."""
    def wrong() -> Any:
        value = good()
        value.box.tagged = SimpleNamespace(name="not a Tagged", label=None)
        return value

    response = assert_same(TAGGED, wrong)
    assert response["data"]["run"]["box"]["tagged"] is None  # the nullable field, with graphql-core's error
    assert "Expected value of type 'Tagged'" in response["errors"][0]["message"]
    assert assert_same(TAGGED, good)["data"]["run"]["box"]["tagged"] == {"name": "t", "label": None}




def test_the_checkout_mutations_are_planned_on_the_real_schema() -> None:
    real = build_schema(Settings())
    for query, variables in zip(CHECKOUT, CHECKOUT_VARIABLES, strict=True):
        operation = parse(query).definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        assert plan_operation(real._schema, operation, basic_attribute) is not None, query
        planned = coerce_planned(plan_variables(real._schema, operation) or [], variables)
        stock = get_variable_values(real._schema, operation.variable_definitions, variables)
        assert planned is not None and not isinstance(stock, list)
        assert repr(planned.coerced) == repr(stock.coerced)


@pytest.mark.parametrize("case", ROOT_CASES)
@pytest.mark.parametrize("query", PLANNED + NOT_PLANNED[:4], ids=lambda q: " ".join(q.split())[:40])
def test_root_outcomes_are_the_same(query: str, case: str) -> None:
    variables = {"input": {"n": 1, "s": None}, "times": 2} if query is WITH_INPUT else None
    response = assert_same(query, ROOT_CASES[case], variables)
    if case == "good" and query in PLANNED:
        assert "errors" not in response, response


def test_a_good_value_completes_without_graphql_core() -> None:
    """The planned path really is taken: its result does not need graphql-core's complete_value at all."""
    original = PlannedExecutor.complete_value

    def forbidden(*_args: Any) -> Any:
        raise AssertionError("graphql-core completed a value the plan should have")

    PlannedExecutor.complete_value = forbidden  # type: ignore[method-assign]
    try:
        response, _kinds, _calls = execute(EVERYTHING, good, None, planned=True)
    finally:
        PlannedExecutor.complete_value = original  # type: ignore[method-assign]
    assert response["data"]["run"]["box"]["leaf"] == {
        "name": "leaf1", "count": 1, "ratio": 0.5, "color": "GREEN", "tags": ["a", None],
        "when": "2026-01-02T03:04:05Z", "amount": "1.250", "data": {"k": [1, "x", None]}}


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: f"{'.'.join(map(str, d[0]))}:{d[1]}")
def test_every_defect_gives_the_same_answer(defect: tuple[tuple[str | int, ...], str]) -> None:
    path, kind = defect
    assert_same(EVERYTHING, lambda: with_defect(path, kind))


@pytest.mark.parametrize("variables", [
    {"input": {"n": 1}},
    {"input": {"n": 1, "s": "x", "color": "GREEN"}, "times": None},
    {"input": {"n": "one"}},  # coercion errors: graphql-core's, before any resolver
    {"input": {"n": 1, "extra": True}},
    {"input": {"n": 2**40}},
    {"input": {"s": "no n"}},
    {"input": {"n": 1, "color": "PURPLE"}},
    {},
    None,
], ids=repr)
def test_variables_and_their_errors_are_the_same(variables: dict[str, Any] | None) -> None:
    assert_same(WITH_INPUT, good, variables)


@pytest.mark.parametrize("operation_name", ["A", "B", "C", None])
def test_operation_names_pick_the_same_operation(operation_name: str | None) -> None:
    query = "mutation A { run { count } } mutation B { maybe { count } }"
    responses = []
    for planned in (True, False):
        use_plans(SCHEMA, planned)
        try:
            result = asyncio.run(SCHEMA.execute(query, operation_name=operation_name,
                                                context_value=SimpleNamespace(produce=good)))
            responses.append(json.dumps(process_result(result)))
        except Exception as exc:  # noqa: BLE001 - an unknown name is refused before execution (HTTP 400)
            responses.append(repr(exc))
        finally:
            use_plans(SCHEMA, True)
    assert responses[0] == responses[1]


def test_a_planned_mutations_variables_are_coerced_by_plan() -> None:
    operation = parse(WITH_INPUT).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    planned = plan_variables(SCHEMA._schema, operation)
    assert planned is not None
    inputs = {"input": {"n": 1, "ops": [{"add": {"sku": "A", "qty": "2"}}], "grid": [[1, None]]}, "times": 2}
    assert coerce_planned(planned, inputs) is not None


@GENERATED
@given(variables=VARIABLES)
def test_planned_variables_coerce_as_graphql_core_does(variables: dict[str, Any]) -> None:
    operation = parse(WITH_INPUT).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    planned = coerce_planned(plan_variables(SCHEMA._schema, operation) or [], variables)
    stock = get_variable_values(SCHEMA._schema, operation.variable_definitions, variables)
    assert (planned is None) == isinstance(stock, list)  # no defaults here: the plan takes exactly what is valid
    if planned is None:
        return  # graphql-core's turn: it reports the errors
    assert not isinstance(stock, list)
    assert planned.coerced == stock.coerced
    assert repr(planned.coerced) == repr(stock.coerced)  # the same types, the same order
    assert {name: (source.signature.name, source.value) for name, source in planned.sources.items()} == \
        {name: (source.signature.name, source.value) for name, source in stock.sources.items()}


@GENERATED
@given(variables=VARIABLES)
def test_generated_variables_give_the_same_answers(variables: dict[str, Any]) -> None:
    assert_same(WITH_INPUT, good, variables)


ROOT_FIELDS = ["run", "maybe", "syncRun"]


@GENERATED
@given(query=st.sampled_from(ROOT_FIELDS).flatmap(lambda name: hypothesis_graphql.mutations(SDL, fields=[name])),
       defect=st.sampled_from(DEFECTS) | st.none())
def test_generated_documents_give_the_same_answers(query: str, defect: tuple[Any, str] | None) -> None:
    produce = good if defect is None else (lambda: with_defect(*defect))
    assert_same(query, produce)

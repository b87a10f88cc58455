"""Planned execution (schema.planned) answers exactly as graphql-core's own: the same data, errors (messages, paths,
locations, codes, masking), nulls and resolver calls, for many documents and many broken values.

Every case runs twice through the whole Strawberry pipeline of an `OmnimanSchema` (our extensions: prepared
documents, the error mask, the operation report): once with the schema's plans, once without (graphql-core walks
every field). The values are built afresh for each run, with one defect planted somewhere (a null, an exception or an
awaitable as a value, a missing attribute, a value that does not serialize, a tuple or an iterator for a list…).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterator
from enum import Enum
from types import SimpleNamespace
from typing import Any

import hypothesis_graphql
import pytest
import strawberry
from graphql import OperationDefinitionNode, get_variable_values, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.http import process_result
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import convert_argument

from omniman_gql.settings import Settings
from schema.build import OmnimanSchema, build_schema
from schema.planned import OperationPlans, PlannedExecutor, coerce_planned, plan_operation, plan_variables
from schema.errors import ClientError
from schema.extensions import schema_extensions
from schema.fast_inputs import plan_input_conversion
from schema.scalars import JSON, SCALAR_MAP
from tests.api.operations import make_channel
from tests.fixtures.app import Api
from tests.graphql import create_token



@strawberry.enum
class Color(Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Leaf:
    name: str
    count: int
    ratio: float | None
    color: Color
    tags: list[str | None] | None
    when: dt.datetime | None
    amount: decimal.Decimal | None
    data: JSON | None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Tagged(Named):  # implements an interface: graphql-core asks its is_type_of (never planned)
    label: str | None


@strawberry.type
class Box:
    id: strawberry.ID
    leaf: Leaf | None
    strict: Leaf
    leaves: list[Leaf]
    loose: list[Leaf | None] | None
    grid: list[list[int]] | None
    named: Named | None
    tagged: Tagged | None

    @strawberry.field
    def computed(self) -> str:  # a resolver: never planned
        return "computed"


@strawberry.type
class Payload:
    box: Box | None
    boxes: list[Box]
    strict_box: Box
    errors: list[str]
    count: int


@strawberry.input
class LineInput:
    sku: str
    qty: decimal.Decimal
    price: int | None = None
    meta: JSON | None = None


@strawberry.input(one_of=True)
class OpInput:
    add: LineInput | None = strawberry.UNSET
    remove: str | None = strawberry.UNSET


@strawberry.input
class RunInput:
    n: int
    s: str | None = None
    color: Color = Color.RED
    ops: list[OpInput] | None = None
    grid: list[list[int | None]] | None = None
    when: dt.datetime | None = None


calls: list[tuple[str, Any]] = []


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def run(self, info: strawberry.Info) -> Payload:
        calls.append(("run", None))
        return info.context.produce()  # type: ignore[no-any-return]

    @strawberry.mutation
    async def maybe(self, info: strawberry.Info) -> Payload | None:
        calls.append(("maybe", None))
        return info.context.produce()  # type: ignore[no-any-return]

    @strawberry.mutation
    def sync_run(self, info: strawberry.Info) -> Payload:
        calls.append(("syncRun", None))
        return info.context.produce()  # type: ignore[no-any-return]

    @strawberry.mutation
    async def with_input(self, info: strawberry.Info, input: RunInput, times: int = 1) -> Payload:
        calls.append(("withInput", repr((input, times))))
        return info.context.produce()  # type: ignore[no-any-return]


@strawberry.type
class Query:
    ping: str = "pong"


def make_schema() -> OmnimanSchema:
    built = OmnimanSchema(query=Query, mutation=Mutation, config=StrawberryConfig(scalar_map=SCALAR_MAP),
                          extensions=schema_extensions(Settings()), execution_context_class=PlannedExecutor)
    built.plans = OperationPlans()
    plan_input_conversion(built)  # as build_schema does
    return built


SCHEMA = make_schema()
SDL = SCHEMA.as_str()


# ---------------------------------------------------------------------------------------------------------------------
# values: a good tree, and the same tree with one defect


class Later:
    """An awaitable resolving to `value` (not a coroutine: one that is never awaited must not warn)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Iterator[Any]:
        if False:  # pragma: no cover - makes this a generator
            yield
        return self.value


class Wrong:
    """A value no built-in scalar serializes (with a stable repr, since error messages show it; JSON passes it on,
    so two are equal)."""

    def __repr__(self) -> str:
        return "<Wrong>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Wrong)

    def __hash__(self) -> int:
        return 0


def leaf(i: int) -> SimpleNamespace:
    return SimpleNamespace(name=f"leaf{i}", count=i, ratio=0.5 if i % 2 else None, color=Color.GREEN,
                           tags=["a", None], when=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                           amount=decimal.Decimal("1.250"), data={"k": [1, "x", None]})


def box(i: int) -> SimpleNamespace:
    return SimpleNamespace(id=str(i), leaf=leaf(i), strict=leaf(i + 10), leaves=[leaf(i + 20), leaf(i + 21)],
                           loose=[leaf(i + 30), None], grid=[[1, 2], [3]], named=Tagged(name="n", label="l"),
                           tagged=Tagged(name="t", label=None))


def good() -> SimpleNamespace:
    return SimpleNamespace(box=box(1), boxes=[box(2), box(3)], strict_box=box(4), errors=[], count=3)


def paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every attribute and list position in a good tree."""
    if isinstance(value, SimpleNamespace):
        for name, item in vars(value).items():
            yield (*prefix, name)
            yield from paths(item, (*prefix, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


KINDS: dict[str, Callable[[Any], Any]] = {
    "null": lambda old: None,
    "exception": lambda old: ValueError("a broken value"),
    "awaitable": Later,
    "wrong": lambda old: Wrong(),
    "big": lambda old: 2**40,
    "text": lambda old: "purple",
    "tuple": lambda old: tuple(old) if isinstance(old, list) else old,
    "iterator": lambda old: iter(old) if isinstance(old, list) else old,
    "dict": lambda old: dict(vars(old)) if isinstance(old, SimpleNamespace) else old,
}
MISSING = "missing"
DEFECTS = [(path, kind) for path in paths(good()) for kind in (*KINDS, MISSING)
           if kind != MISSING or isinstance(path[-1], str)]


def with_defect(path: tuple[str | int, ...], kind: str) -> SimpleNamespace:
    """A fresh good tree with the value at `path` replaced (or removed, for `missing`)."""
    tree = good()
    parent: Any = tree
    for step in path[:-1]:
        parent = parent[step] if isinstance(step, int) else getattr(parent, step)
    last = path[-1]
    if isinstance(last, int):
        parent[last] = KINDS[kind](parent[last]) if kind != MISSING else parent[last]
    elif kind == MISSING:
        delattr(parent, last)
    else:
        setattr(parent, last, KINDS[kind](getattr(parent, last)))
    return tree


def raising(error: Exception) -> Callable[[], Any]:
    def produce() -> Any:
        raise error

    return produce


ROOT_CASES: dict[str, Callable[[], Any]] = {
    "good": good,
    "none": lambda: None,
    "client error": raising(ClientError("not for you", code="FORBIDDEN")),
    "unexpected error": raising(RuntimeError("database on fire")),
    "exception value": lambda: ValueError("returned, not raised"),
    "awaitable": lambda: Later(good()),
    "dict": lambda: {"box": None, "boxes": [], "strictBox": box(1), "errors": [], "count": 1},
}


# ---------------------------------------------------------------------------------------------------------------------
# running a case both ways


def execute(query: str, produce: Callable[[], Any], variables: dict[str, Any] | None, *,
            planned: bool) -> tuple[dict[str, Any], list[str], list[tuple[str, Any]]]:
    """(the response as a client gets it, the original errors' types, the resolver calls) of one run."""
    SCHEMA.plans = OperationPlans() if planned else None  # type: ignore[assignment]
    calls.clear()
    try:
        result = asyncio.run(SCHEMA.execute(query, variable_values=variables,
                                            context_value=SimpleNamespace(produce=produce)))
    finally:
        SCHEMA.plans = OperationPlans()
    kinds = [type(error.original_error).__name__ for error in result.errors or ()]
    return process_result(result), kinds, list(calls)


def assert_same(query: str, produce: Callable[[], Callable[[], Any]] | Callable[[], Any],
                variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Both paths answer alike; returns the planned response. `produce` makes a fresh value for each run."""
    planned = execute(query, produce, variables, planned=True)
    stock = execute(query, produce, variables, planned=False)
    assert planned == stock
    assert json.dumps(planned[0], default=repr) == json.dumps(stock[0], default=repr)  # the keys' order too
    return planned[0]


def is_planned(query: str) -> bool:
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return plan_operation(SCHEMA._schema, operation) is not None


EVERYTHING = """mutation { run {
  count errors
  box { id __typename leaf { name count ratio color tags when amount data } strict { name color }
        leaves { name count } loose { name tags } grid }
  boxes { id strict { count when } loose { ratio } }
  strictBox { id leaves { amount data } grid } } }"""
ALIASED = """mutation Named { first: run { n: count e: errors b: box { i: id l: leaf { t: __typename c: count } } } }"""
NULLABLE_ROOT = """mutation { maybe { count box { strict { name } leaves { count } } boxes { id } } }"""
SYNC_ROOT = """mutation { syncRun { count box { leaf { name } strict { count } } strictBox { grid } } }"""
WITH_INPUT = """mutation($input: RunInput!, $times: Int) { withInput(input: $input, times: $times) {
  count box { id } } }"""
LITERAL_INPUT = """mutation { withInput(input: {n: 2, s: "x", color: GREEN}) { count strictBox { id } } }"""
PLANNED = [EVERYTHING, ALIASED, NULLABLE_ROOT, SYNC_ROOT, WITH_INPUT, LITERAL_INPUT]
NOT_PLANNED = [
    "mutation { run { count } maybe { count } }",  # two root fields
    "mutation { run { box { named { name } } } }",  # an interface
    "mutation { run { box { tagged { name } } } }",  # is_type_of
    "mutation { run { box { computed } } }",  # a resolver below the root
    "mutation { run { ...F } } fragment F on Payload { count }",  # a fragment
    "mutation { run { ... on Payload { count } } }",  # an inline fragment
    "mutation($no: Boolean!) { run { count @skip(if: $no) } }",  # a directive
    "mutation { run { count count } }",  # a response name used twice
    "mutation { __typename }",  # a meta field at the root
    "query { ping }",  # not a mutation
]


@pytest.mark.parametrize("query", PLANNED)
def test_simple_mutations_are_planned(query: str) -> None:
    assert is_planned(query)


@pytest.mark.parametrize("query", NOT_PLANNED)
def test_other_operations_are_not_planned(query: str) -> None:
    assert not is_planned(query)


# bench/benchlib.py's documents (bench/ is not a package)
CHECKOUT = [
    """mutation($input: OpenSessionInput!) {
  openSession(input: $input) { session { sessionKey rev } errors { code message } } }""",
    """mutation($input: ModifySessionInput!) {
  modifySession(input: $input) { session { rev totalQ itemsCount } errors { code message } } }""",
    """mutation($input: CommitSessionInput!) {
  commitSession(input: $input) { result { orderRef status } replayed errors { code message } } }""",
]


CHECKOUT_VARIABLES = [
    {"input": {"channelCode": "pos", "sessionKey": "S-1"}},
    {"input": {"channelCode": "pos", "sessionKey": "S-1", "ops": [
        {"addLine": {"sku": "COFFEE", "qty": "2"}}, {"addLine": {"sku": "CAKE", "qty": "1", "meta": {"a": [1]}}}]}},
    {"input": {"channelCode": "pos", "sessionKey": "S-1", "idempotencyKey": "idem-S-1"}},
]


def test_the_checkout_mutations_are_planned_on_the_real_schema() -> None:
    real = build_schema(Settings())
    for query, variables in zip(CHECKOUT, CHECKOUT_VARIABLES, strict=True):
        operation = parse(query).definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        assert plan_operation(real._schema, operation) is not None, query
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
        SCHEMA.plans = OperationPlans() if planned else None  # type: ignore[assignment]
        try:
            result = asyncio.run(SCHEMA.execute(query, operation_name=operation_name,
                                                context_value=SimpleNamespace(produce=good)))
            responses.append(json.dumps(process_result(result)))
        except Exception as exc:  # noqa: BLE001 - an unknown name is refused before execution (HTTP 400)
            responses.append(repr(exc))
        finally:
            SCHEMA.plans = OperationPlans()
    assert responses[0] == responses[1]


GENERATED = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# variables: mostly well-formed, now and then something else at any level
JUNK = (st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=4)
        | st.lists(st.integers(), max_size=2) | st.dictionaries(st.sampled_from(["n", "sku", "x"]), st.integers(),
                                                               max_size=2))


def mostly(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`strategy`, and one time in twelve something else."""
    return st.integers(0, 11).flatmap(lambda coin: JUNK if coin == 0 else strategy)


def list_of(item: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A list of `item`s, or now and then one bare item (GraphQL takes it as a list of one)."""
    return st.lists(item, max_size=3) | item


LINE = st.fixed_dictionaries(
    {"sku": mostly(st.text(max_size=4)), "qty": mostly(st.sampled_from(["1", "2.5", "0.001", "-1", "abc", "1e3"]))},
    optional={"price": mostly(st.integers(-(2**33), 2**33)), "meta": mostly(st.dictionaries(st.text(max_size=2),
                                                                                          st.integers())),
              "extra": JUNK})
OP = st.fixed_dictionaries({}, optional={"add": mostly(LINE) | st.none(), "remove": mostly(st.text(max_size=3))})
RUN_INPUT = st.fixed_dictionaries({"n": mostly(st.integers(-(2**33), 2**33))}, optional={
    "s": mostly(st.text(max_size=3)), "color": mostly(st.sampled_from(["RED", "GREEN", "BLUE", "red"])),
    "ops": mostly(list_of(mostly(OP))),
    "grid": mostly(list_of(mostly(list_of(mostly(st.integers(-9, 9)) | st.none())))),
    "when": mostly(st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01", "nope"]))})
VARIABLES = st.fixed_dictionaries({}, optional={"input": mostly(RUN_INPUT), "times": mostly(st.integers(-3, 3))})


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
        schema.plans = OperationPlans() if planned else None  # type: ignore[assignment]
        try:
            answers = []
            for query, variables, headers in steps(suffix):
                response = api.client.post("/graphql", json={"query": query, "variables": variables},
                                           headers=headers)
                answers.append((response.status_code, response.text.replace(suffix, "*")))
        finally:
            schema.plans = OperationPlans()
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
# input objects: the planned conversion (schema.fast_inputs) builds what Strawberry's own builds, at the same paths


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

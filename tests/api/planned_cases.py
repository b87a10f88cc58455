"""The cases planned execution is checked with: a schema with every shape the plan handles and some it does not, good
values and values with one defect, and a way to run a document planned or not (tests/api/test_planned_*.py).

Every case runs through the whole Strawberry pipeline of an `OmnimanSchema` (our extensions: prepared documents, the
error mask, the operation report): once with the schema's plans, once without (graphql-core walks every field). The
values are built afresh for each run, with one defect planted somewhere (a null, an exception or an awaitable as a
value, a missing attribute, a value that does not serialize, a tuple or an iterator for a list…).
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

import strawberry
from graphql import OperationDefinitionNode, parse
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from strawberry.http import process_result
from strawberry.schema.config import StrawberryConfig

from omniman_gql.settings import Settings
from schema.accel_graphql_core import PlannedExecutor, install_plans, plan_operation
from schema.accel_strawberry.planning import accelerate, basic_attribute, graphql_schema_of, new_plans
from schema.build import OmnimanSchema, schema_extensions
from schema.errors import ClientError
from schema.scalars import JSON, SCALAR_MAP


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
class Tagged(Named):  # implements an interface: graphql-core asks Strawberry's is_type_of, and so does the plan
    label: str | None


@strawberry.type
class Checked:
    name: str

    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:  # an is_type_of of its own: it might read `info` (not planned)
        return isinstance(obj, cls)


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
    checked: Checked | None

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
    """The cases' schema, accelerated as `build_schema` does with `Settings.accelerate` (whatever the environment)."""
    built = OmnimanSchema(query=Query, mutation=Mutation, config=StrawberryConfig(scalar_map=SCALAR_MAP),
                          extensions=schema_extensions(Settings(accelerate=True)),
                          execution_context_class=PlannedExecutor)
    built.accelerated = True
    accelerate(built)
    return built


def use_plans(schema: OmnimanSchema, planned: bool) -> None:
    """Run `schema`'s simple mutations by plan, or all by graphql-core (`planned` False)."""
    install_plans(graphql_schema_of(schema), new_plans() if planned else None)


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
                           tagged=Tagged(name="t", label=None), checked=Checked(name="c"))


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
    use_plans(SCHEMA, planned)
    calls.clear()
    try:
        result = asyncio.run(SCHEMA.execute(query, variable_values=variables,
                                            context_value=SimpleNamespace(produce=produce)))
    finally:
        use_plans(SCHEMA, True)
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
    return plan_operation(SCHEMA._schema, operation, basic_attribute) is not None


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
TAGGED = """mutation { run { box { tagged { name label } } boxes { tagged { __typename name } } } }"""
PLANNED = [EVERYTHING, ALIASED, NULLABLE_ROOT, SYNC_ROOT, WITH_INPUT, LITERAL_INPUT, TAGGED]
NOT_PLANNED = [
    "mutation { run { count } maybe { count } }",  # two root fields
    "mutation { run { box { named { name } } } }",  # an interface
    "mutation { run { box { checked { name } } } }",  # an is_type_of not Strawberry's
    "mutation { run { box { computed } } }",  # a resolver below the root
    "mutation { run { ...F } } fragment F on Payload { count }",  # a fragment
    "mutation { run { ... on Payload { count } } }",  # an inline fragment
    "mutation($no: Boolean!) { run { count @skip(if: $no) } }",  # a directive
    "mutation { run { count count } }",  # a response name used twice
    "mutation { __typename }",  # a meta field at the root
    "query { ping }",  # not a mutation
]



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

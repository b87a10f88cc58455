"""Which mutations are planned (one root field, plain fields below it), and how their values complete on the happy
path of graphql-core's `complete_value`; the plans of each schema, made once per operation."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetails

from .variables import PlannedVariable, plan_variables

MAX_PLANS = 512  # operations remembered per schema (as many as prepared documents, see extensions.Documents)
# Values of these exact types are never awaitable and never exceptions: the plan skips asking.
_PLAIN = frozenset({str, int, float, bool, dict, list, tuple})

Complete = Callable[[Any], Any]
# A field's definition → the attribute its resolver plainly reads off the source (`getattr`), or None for any other
BasicAttribute = Callable[[GraphQLField], str | None]


class Unplanned(Exception):
    """A value outside the plan's happy path: graphql-core completes it instead."""


@dataclass(frozen=True, slots=True)
class RootPlan:
    """One planned mutation: its single root field and how to complete the field's value."""

    root_type: GraphQLObjectType
    response_name: str
    field_def: GraphQLField
    node: FieldNode
    field_details: list[FieldDetails]  # as graphql-core collects it: the node, no defer usage or fragment variables
    complete: Complete  # value → completed value; raises on anything unexpected


class OperationPlans:
    """Per schema: operation node → its plan and its variables' plan (None when it does not qualify), decided once
    per node (documents are prepared once per text, so the same node comes back for the same text). Bounded: the
    oldest goes first."""

    def __init__(self, *, basic_attribute: BasicAttribute, is_awaitable: Callable[[Any], bool],
                 maxsize: int = MAX_PLANS) -> None:
        self.basic_attribute = basic_attribute
        self.is_awaitable = is_awaitable  # the executor's: a plan runs only in an executor that uses this one
        self.maxsize = maxsize
        # id(node) → (node, plan, variables' plan): the node is held, so its id cannot be reused while it is here
        self._plans: dict[int, tuple[OperationDefinitionNode, RootPlan | None, list[PlannedVariable] | None]] = {}

    def get(self, schema: GraphQLSchema, operation: OperationDefinitionNode) -> RootPlan | None:
        return self._entry(schema, operation)[1]

    def variables(self, schema: GraphQLSchema, operation: OperationDefinitionNode) -> list[PlannedVariable] | None:
        return self._entry(schema, operation)[2]

    def _entry(self, schema: GraphQLSchema, operation: OperationDefinitionNode) -> tuple[Any, Any, Any]:
        entry = self._plans.get(id(operation))
        if entry is not None and entry[0] is operation:
            return entry
        plan = plan_operation(schema, operation, self.basic_attribute)
        entry = (operation, plan, plan_variables(schema, operation) if plan is not None else None)
        if len(self._plans) >= self.maxsize:
            del self._plans[next(iter(self._plans))]
        self._plans[id(operation)] = entry
        return entry


_installed: WeakKeyDictionary[GraphQLSchema, OperationPlans] = WeakKeyDictionary()


def install_plans(schema: GraphQLSchema, plans: OperationPlans | None) -> None:
    """Run `schema`'s simple mutations by `plans` (None: by graphql-core's own executor)."""
    if plans is None:
        _installed.pop(schema, None)
    else:
        _installed[schema] = plans


def installed_plans(schema: GraphQLSchema) -> OperationPlans | None:
    return _installed.get(schema)


def plan_operation(schema: GraphQLSchema, operation: OperationDefinitionNode,
                   basic_attribute: BasicAttribute) -> RootPlan | None:
    """The plan of a (validated) mutation whose selection is one root field without directives, with only plain
    fields below it (see `_completion`); None for anything else."""
    if operation.operation is not OperationType.MUTATION or operation.directives:
        return None
    root_type = schema.mutation_type
    selections = operation.selection_set.selections
    if root_type is None or len(selections) != 1:
        return None
    node = selections[0]
    if not isinstance(node, FieldNode) or node.directives or node.name.value.startswith("__"):
        return None
    field_def = root_type.fields.get(node.name.value)
    if field_def is None or field_def.resolve is None:
        return None
    complete = _completion(field_def.type, node.selection_set, basic_attribute)
    if complete is None:
        return None
    response_name = node.alias.value if node.alias else node.name.value
    return RootPlan(root_type=root_type, response_name=response_name, field_def=field_def, node=node,
                    field_details=[FieldDetails(node, None)], complete=complete)


def _completion(type_: GraphQLOutputType, selection_set: SelectionSetNode | None,
                basic_attribute: BasicAttribute) -> Complete | None:
    """How to complete a value of `type_` selected by `selection_set`, on the happy path of graphql-core's
    `complete_value`; None when the type or the selection is not one the plan handles."""
    if is_non_null_type(type_):
        inner = _completion(type_.of_type, selection_set, basic_attribute)  # type: ignore[attr-defined]
        return None if inner is None else _non_null(inner)
    if is_list_type(type_):
        item = _completion(type_.of_type, selection_set, basic_attribute)  # type: ignore[attr-defined]
        return None if item is None else _list(item)
    if is_leaf_type(type_):
        return _leaf(type_.coerce_output_value)  # type: ignore[union-attr]
    if is_object_type(type_) and _plain_type_check(type_) and selection_set is not None:
        fields = _object_fields(type_, selection_set, basic_attribute)  # type: ignore[arg-type]
        return None if fields is None else _object(fields, type_.is_type_of)  # type: ignore[union-attr]
    return None  # interfaces, unions, objects with an is_type_of that may read `info`


def _plain_type_check(type_: Any) -> bool:
    """Whether completing a value of this object type needs no `info`: no `is_type_of`, or the one Strawberry makes
    for a type implementing an interface (`Node`), an isinstance check that ignores its `info` argument."""
    check = type_.is_type_of
    return check is None or getattr(check, "__qualname__", "").endswith("_get_is_type_of.<locals>.is_type_of")


def _object_fields(type_: GraphQLObjectType, selection_set: SelectionSetNode,
                   basic_attribute: BasicAttribute) -> list[tuple[str, Any]] | None:
    """(response name, how to read and complete it) per selected field, in the selection's order; None unless every
    selection is a field without directives or arguments, each response name is used once, and each field is
    `__typename` or a plain attribute (`basic_attribute` says which)."""
    fields: list[tuple[str, Any]] = []
    names: set[str] = set()
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            return None
        name = selection.alias.value if selection.alias else selection.name.value
        if name in names:
            return None  # graphql-core merges same-named fields; not planned
        names.add(name)
        if selection.name.value == "__typename":
            fields.append((name, type_.name))  # a str: the constant graphql-core resolves it to
            continue
        field_def = type_.fields.get(selection.name.value)
        attribute = basic_attribute(field_def) if field_def is not None and not field_def.args else None
        complete = (_completion(field_def.type, selection.selection_set, basic_attribute)  # type: ignore[union-attr]
                    if attribute is not None else None)
        if complete is None:
            return None
        fields.append((name, (attribute, complete)))
    return fields



def _unusual(value: Any) -> bool:
    """Whether graphql-core would treat `value` other than as a plain value: an exception or an awaitable."""
    return type(value) not in _PLAIN and (isinstance(value, Exception) or inspect.isawaitable(value))


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise Unplanned
        return completed

    return complete


def _list(item: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not list and type(value) is not tuple:
            raise Unplanned  # other iterables, async iterables, exceptions, awaitables
        return [item(element) for element in value]

    return complete


def _leaf(coerce: Callable[[Any], Any]) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if _unusual(value):
            raise Unplanned
        completed = coerce(value)
        if completed is None or completed is Undefined:
            raise Unplanned
        return completed

    return complete


def _object(fields: list[tuple[str, Any]], is_type_of: Callable[[Any, Any], bool] | None) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if _unusual(value) or (is_type_of is not None and not is_type_of(value, None)):
            raise Unplanned  # graphql-core completes it (and reports a value of the wrong type)
        data = {}
        for name, how in fields:
            if type(how) is str:
                data[name] = how
            else:
                data[name] = how[1](getattr(value, how[0]))
        return data

    return complete

"""Planned execution of simple mutations: graphql-core's walk over the selection made once per operation.

A checkout's mutation (`openSession(input: $input) { session { sessionKey rev } errors { code message } }`) spends
most of its execution in machinery graphql-core repeats for every field of every request: collecting the selection,
a resolve info, a path and a type dispatch per field, and Strawberry's basic-field resolver around a `getattr`. For
an operation of a simple shape (`plan_operation` says which) that walk is planned once, and `PlannedExecutor` runs:

- the root field exactly as graphql-core does: the executor's own resolve info and argument values, the field's
  Strawberry resolver, and graphql-core's own error handling (`handle_field_error`, the null at the root,
  `build_response`), in the same order;
- the completion of the value the resolver returned by the plan, which knows only the happy path: the first value
  it does not expect (a null in a non-null field, an exception or awaitable as a value, a list of another kind, a
  scalar that does not serialize…) abandons what the plan built, and graphql-core's own `complete_value` completes
  the same value again. Completion only reads attributes and serializes scalars, so doing it twice changes nothing
  else; every error, message, path and null in a result comes from graphql-core.

The variables of a planned mutation are coerced by a plan too (`plan_variables`): graphql-core's
`coerce_input_value` written out once per variable type, which returns a value or Undefined exactly as graphql-core's
does; any Undefined (a value graphql-core refuses) or a missing variable with a default builds the executor through
graphql-core, which coerces again and reports the errors.

Everything else (queries, subscriptions, fragments, directives, abort signals, execution hooks, resolver middleware)
runs through graphql-core as before. tests/api/test_planned_execution.py compares both paths over many documents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    MiddlewareManager,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    assert_valid_schema,
    default_field_resolver,
    default_type_resolver,
    get_argument_values,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    is_required_input_field,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import Path, is_iterable
from graphql.utilities.coerce_input_value import coerce_default_value
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from .fanout import SharingExecutor

MAX_PLANS = 512  # operations remembered per schema (as many as prepared documents, see extensions.Documents)
# Values of these exact types are never awaitable and never exceptions: the plan skips asking.
_PLAIN = frozenset({str, int, float, bool, dict, list, tuple})

Complete = Callable[[Any], Any]
Coerce = Callable[[Any], Any]  # a variable's value → its coerced value, or Undefined when graphql-core refuses it
# (name, signature, coerce, may be left out: nullable without a default)
PlannedVariable = tuple[str, GraphQLVariableSignature, Coerce, bool]


class Unplanned(Exception):  # noqa: N818 - a signal, not an error anyone sees
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

    def __init__(self, maxsize: int = MAX_PLANS) -> None:
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
        plan = plan_operation(schema, operation)
        entry = (operation, plan, plan_variables(schema, operation) if plan is not None else None)
        if len(self._plans) >= self.maxsize:
            del self._plans[next(iter(self._plans))]
        self._plans[id(operation)] = entry
        return entry


def plan_operation(schema: GraphQLSchema, operation: OperationDefinitionNode) -> RootPlan | None:
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
    complete = _completion(field_def.type, node.selection_set)
    if complete is None:
        return None
    response_name = node.alias.value if node.alias else node.name.value
    return RootPlan(root_type=root_type, response_name=response_name, field_def=field_def, node=node,
                    field_details=[FieldDetails(node, None)], complete=complete)


def _completion(type_: GraphQLOutputType, selection_set: SelectionSetNode | None) -> Complete | None:
    """How to complete a value of `type_` selected by `selection_set`, on the happy path of graphql-core's
    `complete_value`; None when the type or the selection is not one the plan handles."""
    if is_non_null_type(type_):
        inner = _completion(type_.of_type, selection_set)  # type: ignore[attr-defined]
        return None if inner is None else _non_null(inner)
    if is_list_type(type_):
        item = _completion(type_.of_type, selection_set)  # type: ignore[attr-defined]
        return None if item is None else _list(item)
    if is_leaf_type(type_):
        return _leaf(type_.coerce_output_value)  # type: ignore[union-attr]
    if is_object_type(type_) and type_.is_type_of is None and selection_set is not None:  # type: ignore[union-attr]
        fields = _object_fields(type_, selection_set)  # type: ignore[arg-type]
        return None if fields is None else _object(fields)
    return None  # interfaces, unions, objects with is_type_of


def _object_fields(type_: GraphQLObjectType, selection_set: SelectionSetNode) -> list[tuple[str, Any]] | None:
    """(response name, how to read and complete it) per selected field, in the selection's order; None unless every
    selection is a field without directives or arguments, each response name is used once, and each field is
    `__typename` or a Strawberry basic field (a plain attribute: no resolver, extensions or special field class)."""
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
        attribute = _basic_attribute(field_def)
        complete = _completion(field_def.type, selection.selection_set) if attribute is not None else None
        if complete is None:
            return None
        fields.append((name, (attribute, complete)))
    return fields


def _basic_attribute(field_def: GraphQLField | None) -> str | None:
    """The attribute a Strawberry basic field reads (its resolver calls `getattr(source, python_name)`), else None."""
    if field_def is None or field_def.args:
        return None
    field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (not isinstance(field, StrawberryField) or not field.is_basic_field or field.default_resolver is not getattr
            or type(field).get_result is not StrawberryField.get_result
            or getattr(field_def.resolve, "__name__", None) != "_get_basic_result"):
        return None
    return field.python_name


def plan_variables(schema: GraphQLSchema, operation: OperationDefinitionNode) -> list[PlannedVariable] | None:
    """How to coerce each variable of `operation`, in order; None when a variable's type is not an input type or
    nests input objects in a cycle (graphql-core's depth check could then matter)."""
    planned: list[PlannedVariable] = []
    for node in operation.variable_definitions or ():
        signature = get_variable_signature(schema, node)
        if isinstance(signature, GraphQLError):
            return None
        coerce = _coercion(signature.type, 0, frozenset())
        if coerce is None:
            return None
        optional = not node.default_value and not is_non_null_type(signature.type)
        planned.append((signature.name, signature, coerce, optional))
    return planned


def coerce_planned(planned: list[PlannedVariable], inputs: dict[str, Any]) -> VariableValues | None:
    """graphql-core's `coerce_variable_values` for values it accepts as they are; None for anything else (a value
    it refuses, a missing variable with a default or a non-null type): graphql-core then coerces and reports."""
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    for name, signature, coerce, optional in planned:
        value = inputs.get(name, Undefined)
        if value is Undefined:
            if not optional:
                return None
            sources[name] = VariableValueSource(signature)  # a nullable variable left out: no value at all
            continue
        sources[name] = VariableValueSource(signature, value)
        try:
            value = coerce(value)
        except Exception:  # noqa: BLE001 - e.g. Strawberry's oneOf check raising: graphql-core raises or reports it
            return None
        if value is Undefined:
            return None
        coerced[name] = value
    return VariableValues(sources, coerced)


def _coercion(type_: GraphQLInputType, depth: int, enclosing: frozenset[Any]) -> Coerce | None:
    """graphql-core's `coerce_input_value` for `type_`, with the type's structure looked at once; None for input
    objects nested in a cycle or deeper than graphql-core's nesting limit (its depth check never fires here)."""
    if depth > MAX_NESTING_DEPTH:
        return None
    if is_non_null_type(type_):
        inner = _coercion(type_.of_type, depth, enclosing)  # type: ignore[attr-defined]
        return None if inner is None else _non_null_input(inner)
    if is_list_type(type_):
        item = _coercion(type_.of_type, depth + 1, enclosing)  # type: ignore[attr-defined]
        return None if item is None else _list_input(item)
    if is_input_object_type(type_):
        if type_ in enclosing:
            return None
        fields = []
        for name, field in type_.fields.items():  # type: ignore[union-attr]
            coerce = _coercion(field.type, depth + 1, enclosing | {type_})
            if coerce is None:
                return None
            fields.append((name, field, field.out_name or name, is_required_input_field(field), coerce))
        return _object_input(type_, fields)
    return _leaf_input(type_.coerce_input_value)  # type: ignore[union-attr]


def _non_null_input(inner: Coerce) -> Coerce:
    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return Undefined
        return inner(value)

    return coerce


def _list_input(item: Coerce) -> Coerce:
    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not is_iterable(value):  # a non-list value counts as a list of one
            coerced_item = item(value)
            return Undefined if coerced_item is Undefined else [coerced_item]
        coerced = []
        for element in value:
            coerced_item = item(element)
            if coerced_item is Undefined:
                return Undefined
            coerced.append(coerced_item)
        return coerced

    return coerce


def _object_input(type_: Any, fields: list[tuple[str, Any, str, bool, Coerce]]) -> Coerce:
    known = type_.fields
    one_of = type_.is_one_of
    out_type = type_.out_type

    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not isinstance(value, dict):
            return Undefined
        defined = 0
        for name, item in value.items():
            if item is Undefined:
                continue
            defined += 1
            if name not in known:
                return Undefined
        coerced: dict[str, Any] = {}
        for name, field, out_name, required, coerce_field in fields:
            item = value.get(name, Undefined)
            if item is Undefined:
                if required:
                    return Undefined
                default = coerce_default_value(field)
                if default is not Undefined:
                    coerced[out_name] = default
            else:
                item = coerce_field(item)
                if item is Undefined:
                    return Undefined
                coerced[out_name] = item
        if one_of:
            keys = list(coerced)
            if defined != 1 or len(keys) != 1 or coerced[keys[0]] is None:
                return Undefined
        return out_type(coerced)

    return coerce


def _leaf_input(parse: Callable[[Any], Any]) -> Coerce:
    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        try:
            return parse(value)
        except Exception:  # noqa: BLE001 - as graphql-core: refused, no value
            return Undefined

    return coerce


def _unusual(value: Any) -> bool:
    """Whether graphql-core would treat `value` other than as a plain value: an exception or an awaitable."""
    return type(value) not in _PLAIN and (isinstance(value, Exception) or optimized_is_awaitable(value))


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


def _object(fields: list[tuple[str, Any]]) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if _unusual(value):
            raise Unplanned
        data = {}
        for name, how in fields:
            if type(how) is str:
                data[name] = how
            else:
                data[name] = how[1](getattr(value, how[0]))
        return data

    return complete


class PlannedExecutor(SharingExecutor):
    """graphql-core's executor (Strawberry's, sharing subscription results) that runs a planned operation by its
    plan. An operation without a plan, or any setting the plan does not mirror, runs as before."""

    @classmethod
    def build(cls, schema: GraphQLSchema, document: DocumentNode, root_value: Any = None,  # noqa: PLR0913
              context_value: Any = None, raw_variable_values: dict[str, Any] | None = None,
              operation_name: str | None = None, field_resolver: Any = None, type_resolver: Any = None,
              subscribe_field_resolver: Any = None, max_coercion_errors: int = 50,
              enable_early_execution: bool = False, middleware: Any = None, is_awaitable: Any = None,
              is_async_iterable: Any = None, hide_suggestions: bool = False, abort_signal: Any = None,
              hooks: Any = None, **custom_args: Any) -> Any:
        """graphql-core's `build` for a document that is one planned mutation whose variables its plan coerces
        (the operation and the executor as graphql-core picks and makes them); anything else: graphql-core's."""
        variables = None
        operation = document.definitions[0] if len(document.definitions) == 1 else None
        plans: OperationPlans | None = getattr(getattr(schema, "_strawberry_schema", None), "plans", None)
        if (plans is not None and isinstance(operation, OperationDefinitionNode)
                and (operation_name is None or (operation.name is not None and operation.name.value == operation_name))
                and (middleware is None or isinstance(middleware, MiddlewareManager))):
            assert_valid_schema(schema)
            planned = plans.variables(schema, operation)
            if planned is not None:
                variables = coerce_planned(planned, raw_variable_values or {})
        if variables is None:
            return super().build(
                schema, document, root_value, context_value, raw_variable_values, operation_name, field_resolver,
                type_resolver, subscribe_field_resolver, max_coercion_errors, enable_early_execution, middleware,
                is_awaitable, is_async_iterable, hide_suggestions=hide_suggestions, abort_signal=abort_signal,
                hooks=hooks, **custom_args)
        return cls(schema, {}, {}, root_value, context_value, operation, variables,
                   field_resolver or default_field_resolver, type_resolver or default_type_resolver,
                   subscribe_field_resolver or default_field_resolver, enable_early_execution, middleware,
                   is_awaitable, is_async_iterable, hide_suggestions=hide_suggestions, abort_signal=abort_signal,
                   hooks=hooks, **custom_args)

    def execute_operation(self, serially: bool | None = None) -> Any:
        plan = self._plan() if serially is None else None
        if plan is None:
            return super().execute_operation(serially)
        return self._execute_planned(plan)

    def _plan(self) -> RootPlan | None:
        plans: OperationPlans | None = getattr(getattr(self.schema, "_strawberry_schema", None), "plans", None)
        manager = self.middleware_manager
        if (plans is None or self.abort_signal is not None or self.hooks is not None
                or self.is_awaitable is not optimized_is_awaitable
                or (manager is not None and manager._middleware_resolvers is not None)):
            return None
        return plans.get(self.schema, self.operation)

    def _execute_planned(self, plan: RootPlan) -> Any:
        """graphql-core's `execute_operation` → `execute_fields_serially` → `execute_field` for the one root field."""
        field_def = plan.field_def
        try:
            path = Path(None, plan.response_name, plan.root_type.name)
            info = self.build_resolve_info(field_def, [plan.node], plan.root_type, path)
            try:
                args = (get_argument_values(field_def, plan.node, self.variable_values, None, self.hide_suggestions)
                        if field_def.args or plan.node.arguments else {})
                result = field_def.resolve(self.root_value, info, **args)  # type: ignore[misc]
                if self.is_awaitable(result):
                    return self._await_planned(plan, info, path, result)
                completed = self._complete(plan, info, path, result)
                if self.is_awaitable(completed):
                    return self._await_planned(plan, info, path, completed, resolved=True)
            except Exception as raw_error:  # noqa: BLE001 - as graphql-core's execute_field
                self.handle_field_error(raw_error, field_def.type, plan.field_details, path)
                completed = None
            data = {plan.response_name: completed}
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self.finish(self.build_response(None))
        return self.finish(self.build_response(data))

    async def _await_planned(self, plan: RootPlan, info: Any, path: Path, awaitable: Any,
                             resolved: bool = False) -> Any:
        """The root field's awaitable (graphql-core's `complete_awaitable_value`, or its `await_completed` when
        `resolved`) and the operation's response, as `execute_operation`'s `await_result` builds it."""
        try:
            try:
                if resolved:
                    completed = await awaitable
                else:
                    completed = self._complete(plan, info, path, await awaitable)
                    if self.is_awaitable(completed):
                        completed = await completed
            except Exception as raw_error:  # noqa: BLE001 - as graphql-core's complete_awaitable_value
                self.handle_field_error(raw_error, plan.field_def.type, plan.field_details, path)
                completed = None
            data = {plan.response_name: completed}
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self.build_response(None)
        except Exception:
            await self.cancel_incremental_work()
            self.run_async_work_finished_hook()
            raise
        return self.build_response(data)

    def _complete(self, plan: RootPlan, info: Any, path: Path, result: Any) -> Any:
        """The root field's value completed by the plan, or by graphql-core when the plan gives up on it."""
        try:
            return plan.complete(result)
        except Exception:  # noqa: BLE001 - Unplanned, or a scalar that would not serialize: graphql-core's turn
            return self.complete_value(plan.field_def.type, plan.field_details, info, path, result, None)

"""A planned mutation's variables coerced as graphql-core's `coerce_input_value` would, with each variable type
looked at once: a value, or None when graphql-core must coerce (and report) itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLInputType,
    GraphQLSchema,
    OperationDefinitionNode,
    Undefined,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
    is_required_input_field,
)
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import is_iterable
from graphql.utilities.coerce_input_value import coerce_default_value

Coerce = Callable[[Any], Any]  # a variable's value → its coerced value, or Undefined when graphql-core refuses it
# (name, signature, coerce, may be left out: nullable without a default)
PlannedVariable = tuple[str, GraphQLVariableSignature, Coerce, bool]


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

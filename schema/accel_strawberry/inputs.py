"""Input objects built by a plan made once per type: scalar fields pass through, the rest go to Strawberry.

For every input field of every input object, on every request, Strawberry's `convert_argument` derives the GraphQL
name (camel-casing it again), resolves the field's type and works out whether it is a scalar. Here that is done once
per type when the schema is built, and the type's `from_input` hook uses it: a scalar (or a nullable scalar that is
not a `Maybe`) passes through as graphql-core coerced it; every other field (nested input objects, lists, enums,
`Maybe`, GlobalID) is converted by Strawberry's own `InputContext.convert`. The objects built are the same.

An accelerator: it asks Strawberry's private `_is_leaf_type` which types are scalars and walks the schema converter's
type map, so it is tied to the Strawberry series pinned in pyproject.toml and installed only when
`Settings.accelerate`; otherwise Strawberry converts every input field itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

from strawberry.relay.types import GlobalID
from strawberry.schema import Schema
from strawberry.types.arguments import InputContext, _is_leaf_type
from strawberry.types.base import StrawberryMaybe, StrawberryObjectDefinition, StrawberryOptional

FromInput = Callable[[type, Mapping[str, Any], InputContext], Any]


def plan_input_conversion(schema: Schema) -> int:
    """Give each input object of `schema` without a `from_input` of its own a planned one; how many got one."""
    planned = 0
    for concrete in schema.schema_converter.type_map.values():
        definition = concrete.definition
        if isinstance(definition, StrawberryObjectDefinition) and definition.is_input \
                and definition.from_input is None:
            definition.from_input = _planned(schema, definition)
            planned += 1
    return planned


def _planned(schema: Schema, definition: StrawberryObjectDefinition) -> FromInput:
    registry = schema.schema_converter.scalar_registry
    names = schema.config.name_converter
    # (GraphQL name, Python name, type, whether the value passes through unchanged)
    fields = tuple((names.from_field(field), field.python_name, type_ := field.resolve_type(type_definition=definition),
                    _passes_through(type_, registry))
                   for field in definition.fields)
    # As Strawberry does: fields without a default start as None (graphql-core has checked the required ones).
    start = {field.python_name: None for field in definition.fields
             if field.default_value is MISSING and field.default_factory is MISSING}

    def from_input(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        kwargs = dict(start)
        for graphql_name, python_name, type_, plain in fields:
            if graphql_name in value:
                item = value[graphql_name]
                kwargs[python_name] = item if plain else context.convert(item, type_, graphql_name)
        return cls(**kwargs)

    return from_input


def _passes_through(type_: Any, registry: Mapping[object, Any]) -> bool:
    """A scalar, or a nullable scalar that is not a `Maybe`: Strawberry returns such a value as it is."""
    if isinstance(type_, StrawberryMaybe):
        return False  # wrapped in Some(…)
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return _is_leaf_type(type_, registry, skip_classes=(GlobalID,))

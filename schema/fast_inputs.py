"""Input objects built from their GraphQL values by a plan made once per type, instead of Strawberry's generic walk.

For every input field of every input object, on every request, Strawberry's `convert_argument` derives the GraphQL
name (camel-casing it again), resolves the field's type and works out whether it is a scalar. Here that is done once
per type when the schema is built, and the type's `from_input` hook (Strawberry's own extension point) uses it:
scalars (and nullable scalars) pass through as graphql-core coerced them; nested input objects and lists (of them, or
of scalars) are converted by Strawberry's steps for those types written out once (`_converter`: null and UNSET kept,
lists of scalars copied, lists converted item by item with their index in the path, an input object built by its
`from_input` with its own InputContext); anything else (enums, `Maybe`, GlobalID, lazy types) goes through Strawberry's
conversion as before. The objects built are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

from strawberry.relay.types import GlobalID
from strawberry.schema import Schema
from strawberry.types.arguments import InputContext, _is_leaf_type, _is_optional_leaf_type, convert_argument
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

FromInput = Callable[[type, Mapping[str, Any], InputContext], Any]
# (value, the InputContext of the object holding it, the value's path) → the converted value
Convert = Callable[[Any, InputContext, tuple[str | int, ...]], Any]


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
    # (GraphQL name, Python name, type, whether the value passes through unchanged, its converter or None)
    fields = tuple((names.from_field(field), field.python_name, type_ := field.resolve_type(type_definition=definition),
                    plain := _passes_through(type_, registry), None if plain else _converter(type_, registry))
                   for field in definition.fields)
    # As Strawberry does: fields without a default start as None (graphql-core has checked the required ones).
    start = {field.python_name: None for field in definition.fields
             if field.default_value is MISSING and field.default_factory is MISSING}

    def from_input(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        kwargs = dict(start)
        for graphql_name, python_name, type_, plain, convert in fields:
            if graphql_name in value:
                item = value[graphql_name]
                if plain:
                    kwargs[python_name] = item
                elif convert is not None:
                    kwargs[python_name] = convert(item, context, (*context.path, graphql_name))
                else:
                    kwargs[python_name] = context.convert(item, type_, graphql_name)
        return cls(**kwargs)

    return from_input


def _converter(type_: Any, registry: Mapping[object, Any]) -> Convert | None:
    """Strawberry's `convert_argument` for `type_`, for the types whose steps are written out here: an optional or
    required input object, or a list of scalars or of those; None for any other type."""
    if isinstance(type_, StrawberryMaybe):
        return None
    if isinstance(type_, StrawberryOptional):  # convert_argument goes straight on with the inner type
        return _converter(type_.of_type, registry)
    if isinstance(type_, StrawberryList):
        item_type = type_.of_type
        if _is_leaf_type(item_type, registry, skip_classes=(GlobalID,)) \
                or _is_optional_leaf_type(item_type, registry, skip_classes=(GlobalID,)):
            return _copied_list
        item = _converter(item_type, registry)
        return None if item is None else _converted_list(item)
    if (isinstance(type_, type) and not _is_leaf_type(type_, registry) and not isinstance(type_, LazyType)
            and not has_enum_definition(type_) and has_object_definition(type_)):
        return _input_object(type_)
    return None


def _copied_list(value: Any, context: InputContext, path: tuple[str | int, ...]) -> Any:
    """Scalars need no converting, but the list is copied (graphql-core may hand the same default to every request
    that omits the value)."""
    if value is None:
        return None
    if value is UNSET:
        return UNSET
    return list(value)


def _converted_list(item: Convert) -> Convert:
    def convert(value: Any, context: InputContext, path: tuple[str | int, ...]) -> Any:
        if value is None:
            return None
        if value is UNSET:
            return UNSET
        return [item(element, context, (*path, index)) for index, element in enumerate(value)]

    return convert


def _input_object(cls: Any) -> Convert:
    definition = cls.__strawberry_definition__

    def convert(value: Any, context: InputContext, path: tuple[str | int, ...]) -> Any:
        if value is None:
            return None
        if value is UNSET:
            return UNSET
        from_input = definition.from_input  # read now: types are planned one after the other
        if from_input is None:
            return convert_argument(value, cls, context.scalar_registry, context.config, context.info, path=path)
        return from_input(cls, value, InputContext(info=context.info, config=context.config,
                                                   scalar_registry=context.scalar_registry, path=path))

    return convert


def _passes_through(type_: Any, registry: Mapping[object, Any]) -> bool:
    """A scalar, or a nullable scalar that is not a `Maybe`: Strawberry returns such a value as it is."""
    if isinstance(type_, StrawberryMaybe):
        return False  # wrapped in Some(…)
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return _is_leaf_type(type_, registry, skip_classes=(GlobalID,))

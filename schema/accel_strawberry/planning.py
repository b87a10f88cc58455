"""Installs the execution accelerators on a built schema: planned input objects and planned simple mutations.

The Strawberry half of planned execution lives here: which GraphQL fields are Strawberry basic fields (a plain
attribute read, recognised by Strawberry's converter back-reference and its basic-field resolver), the graphql-core
schema inside Strawberry's, and the awaitable check Strawberry's executor uses. Tied to the Strawberry series pinned in
pyproject.toml; `schema.build` calls `accelerate` only when `Settings.accelerate`.
"""

from graphql import GraphQLField
from strawberry.execution import optimized_is_awaitable
from strawberry.schema import Schema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from ..accel_graphql_core import OperationPlans, install_plans
from .inputs import plan_input_conversion


def accelerate(schema: Schema) -> None:
    """Plan the conversion of `schema`'s input objects, and run its simple mutations by plan."""
    plan_input_conversion(schema)
    install_plans(graphql_schema_of(schema), new_plans())


def new_plans() -> OperationPlans:
    """An empty set of operation plans for a Strawberry schema."""
    return OperationPlans(basic_attribute=basic_attribute, is_awaitable=optimized_is_awaitable)


def graphql_schema_of(schema: Schema) -> object:
    """The graphql-core schema a Strawberry schema executes with (Strawberry keeps it in a private attribute)."""
    return schema._schema


def basic_attribute(field_def: GraphQLField) -> str | None:
    """The attribute a Strawberry basic field reads (its resolver calls `getattr(source, python_name)`), else None."""
    field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (not isinstance(field, StrawberryField) or not field.is_basic_field or field.default_resolver is not getattr
            or type(field).get_result is not StrawberryField.get_result
            or getattr(field_def.resolve, "__name__", None) != "_get_basic_result"):
        return None
    return field.python_name

"""The checked-in SDL is the code's schema, and every type, field, argument and enum value is described."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from schema.build import build_schema, schema

SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"


def test_checked_in_sdl_equals_the_code_schema() -> None:
    assert SDL.read_text(encoding="utf-8") == str(schema) + "\n", (
        "schema/schema.graphql is stale: run `omniman schema export -o schema/schema.graphql`")


def test_sdl_does_not_depend_on_settings() -> None:
    from omniman_gql.settings import Settings

    other = build_schema(Settings(max_query_depth=5, introspection=False, graphiql=False))
    assert str(other) == str(schema)


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    missing: list[str] = []
    for name, type_ in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(type_, GraphQLEnumType):
            missing.extend(f"{name}.{value}" for value, v in type_.values.items() if not v.description)
    assert missing == []


def test_contract_names_are_present() -> None:
    sdl = str(schema)
    for name in ("channels: [Channel!]!", "channel(", "session(", "sessions(", "order(", "orders(", "directives(",
                 "prices(", "stockLevels(", "upsertChannel(", "openSession(", "modifySession(", "resolveIssue(",
                 "commitSession(", "abandonSession(", "importOrder(", "transitionOrder(", "addOrderEvent(",
                 "retryDirective(", "setPrices(", "setStockLevels(", "createFulfillment(", "updateFulfillment(",
                 "input SessionOpInput @oneOf", "scalar Decimal", "scalar JSON", "scalar DateTime"):
        assert name in sdl, name

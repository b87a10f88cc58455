"""Checks the documents `omniman documents add` registers: each parses and validates against this schema and its
document limits; each is registered under the SHA-256 of its text and of its text as graphql-js prints it. A `.json`
file is an Apollo persisted-query manifest (`@apollo/generate-persisted-query-manifest`): its operations' bodies."""

import json
from dataclasses import dataclass

from graphql import GraphQLError, GraphQLSchema, build_schema, parse, print_ast, specified_rules, validate

from omniman_gql.services.documents import sha256_of
from omniman_gql.settings import Settings

from .build import build_schema as build_strawberry_schema
from .document_limits import limit_rules


@dataclass(frozen=True, slots=True)
class Checked:
    """One file's document: the texts to register by hash (as written and as printed), or what is wrong with it."""

    name: str
    texts: dict[str, str]
    problems: list[str]


def graphql_schema(settings: Settings) -> GraphQLSchema:
    """The hub's schema as graphql-core validates documents against it (built from its SDL)."""
    return build_schema(build_strawberry_schema(settings).as_str())


def check_document(name: str, text: str, schema: GraphQLSchema, settings: Settings) -> Checked:
    """Parse and validate `text`; its hashes: of the text itself and of `print(parse(text))`, the form Apollo Client
    and graphql-js hash (so a client sending either finds it)."""
    if not text.strip():
        return Checked(name, {}, ["the file holds no GraphQL document"])
    try:
        document = parse(text, max_tokens=settings.max_query_tokens)
    except GraphQLError as exc:
        return Checked(name, {}, [exc.message])
    errors = validate(schema, document, [*specified_rules, *limit_rules(settings)])
    if errors:
        return Checked(name, {}, [error.message for error in errors])
    printed = print_ast(document)
    return Checked(name, {sha256_of(text): text, sha256_of(printed): printed}, [])


def documents_in(name: str, text: str) -> list[tuple[str, str]] | str:
    """The (label, document) pairs of a file: a `.json` file is an Apollo manifest (`{"format":
    "apollo-persisted-query-manifest", "operations": [{"id", "body", "name"}, …]}`), anything else one document.
    A string: why the file cannot be read as such."""
    if not name.endswith(".json"):
        return [(name, text)]
    try:
        manifest = json.loads(text)
    except (ValueError, RecursionError):
        return "not JSON (a .json file must be an Apollo persisted-query manifest)"
    operations = manifest.get("operations") if isinstance(manifest, dict) else None
    if not isinstance(operations, list) or manifest.get("format") != "apollo-persisted-query-manifest":
        return ('not an Apollo persisted-query manifest ({"format": "apollo-persisted-query-manifest", '
                '"operations": [...]})')
    pairs = []
    for index, operation in enumerate(operations):
        body = operation.get("body") if isinstance(operation, dict) else None
        if not isinstance(body, str):
            return f"operations[{index}] has no string `body`"
        if isinstance(operation.get("id"), str) and operation["id"] != sha256_of(body):
            return f"operations[{index}].id is not the SHA-256 of its body"
        pairs.append((f"{name}#{operation.get('name') or index}", body))
    return pairs

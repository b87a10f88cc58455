"""The docs cannot rot: every GraphQL block of docs/*.md validates against the schema, settings.md is current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLSyntaxError, parse, validate

from omniman_gql.cli.settings_doc import settings_markdown
from schema.build import build_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```graphql\n(.*?)^```", re.S | re.M)


def graphql_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((f"{path.name}:{line}", match.group(1)))
    return blocks


def test_the_docs_have_graphql_examples() -> None:
    files = {where.split(":")[0] for where, _ in graphql_blocks()}
    assert {"concepts.md", "cookbook.md"} <= files


@pytest.mark.parametrize(("where", "document"), graphql_blocks(), ids=[w for w, _ in graphql_blocks()])
def test_graphql_examples_validate_against_the_schema(where: str, document: str) -> None:
    try:
        ast = parse(document)
    except GraphQLSyntaxError as exc:
        pytest.fail(f"{where}: {exc.message}")
    errors = validate(build_schema()._schema, ast)
    assert [e.message for e in errors] == [], where


def test_settings_reference_is_current() -> None:
    current = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert current == settings_markdown(), "regenerate it: omniman settings-doc -o docs/settings.md"


def test_settings_doc_command_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    from omniman_gql.cli import main

    assert main(["settings-doc"]) == 0
    assert capsys.readouterr().out == settings_markdown()

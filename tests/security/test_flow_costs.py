"""Every document the hub's own flows send stays under the default cost limit: the tests' and bench scripts'
operations, the kitchen display's, the README quick start and the docs' examples (their variables at their
defaults; the limit leaves room for those that page by variable)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)

from omniman_gql.settings import Settings
from schema.build import build_schema
from schema.document_cost import Costing

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = build_schema()._schema
LIMIT = Settings.model_fields["max_query_cost"].default
BLOCK = re.compile(r"^```graphql\n(.*?)^```", re.S | re.M)
KDS_CONSTANT = re.compile(r"const (\w+) = `(.*?)`(?: \+ (\w+))?;", re.S)


def document(text: str) -> DocumentNode | None:
    """`text` as a document of the schema with at least one operation, else None (any other string)."""
    try:
        parsed = parse(text)
    except GraphQLError:
        return None
    if not any(isinstance(d, OperationDefinitionNode) for d in parsed.definitions):
        return None
    return parsed if not validate(SCHEMA, parsed, specified_rules) else None


def python_documents() -> dict[str, DocumentNode]:
    """Every string literal of the tests, the bench scripts and the schema package that is a valid document."""
    found = {}
    paths = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("bench/*.py"), *ROOT.glob("schema/**/*.py")]
    for path in sorted(paths):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "{" in node.value:
                parsed = document(node.value)
                if parsed is not None:
                    found[f"{path.relative_to(ROOT)}:{node.lineno}"] = parsed
    return found


def kds_documents() -> dict[str, DocumentNode]:
    """The kitchen display's documents, as its script assembles them (its page size and its shared fragment)."""
    script = (ROOT / "schema/kds/static/kds.js").read_text(encoding="utf-8")
    page = re.search(r"const PAGE = (\d+);", script)
    assert page is not None
    constants = {m[1]: (m[2].replace("${PAGE}", page[1]), m[3]) for m in KDS_CONSTANT.finditer(script)}
    found = {}
    for name, (text, appended) in constants.items():
        parsed = document(text + (constants[appended][0] if appended else ""))
        if parsed is not None:
            found[f"kds.js:{name}"] = parsed
    return found


def markdown_documents() -> dict[str, DocumentNode]:
    found = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            parsed = document(match.group(1))
            if parsed is not None:
                found[f"{path.name}:{text.count(chr(10), 0, match.start()) + 1}"] = parsed
    return found


def costs(parsed: DocumentNode) -> dict[str, int]:
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    return {(d.name.value if d.name else "anonymous"): Costing(SCHEMA, fragments.get, None).operation(d)
            for d in parsed.definitions if isinstance(d, OperationDefinitionNode)}


FLOWS = {**python_documents(), **kds_documents(), **markdown_documents()}


def test_the_flows_are_found() -> None:
    assert {"kds.js:OPEN_ORDERS", "kds.js:EVENTS", "kds.js:TRANSITION"} <= set(FLOWS)
    places = {where.split(":")[0].split("/")[0] for where in FLOWS}
    assert {"tests", "bench", "schema", "README.md", "cookbook.md", "kds.js"} <= places
    assert any("quickstart" in where for where in FLOWS)
    assert costs(FLOWS["kds.js:OPEN_ORDERS"])["KdsOpenOrders"] > 1000  # a real page of tickets is counted


@pytest.mark.parametrize("where", list(FLOWS))
def test_each_flow_is_under_the_default_limit(where: str) -> None:
    over = {name: cost for name, cost in costs(FLOWS[where]).items() if cost > LIMIT}
    assert over == {}, f"{where} costs more than OMNIMAN_MAX_QUERY_COST's default ({LIMIT})"

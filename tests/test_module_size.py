"""Small modules with one job: none of ours is over 400 lines, and each says in its docstring what it is for."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("omniman_gql", "schema", "tasks", "migrations", "tests", "bench")
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(path for folder in FOLDERS for path in (ROOT / folder).rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    long = {str(path.relative_to(ROOT)): lines for path in _modules()
            if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_module_with_code_has_a_docstring() -> None:
    missing = [str(path.relative_to(ROOT)) for path in _modules()
               if (tree := ast.parse(path.read_text())).body and ast.get_docstring(tree) is None]
    assert missing == []

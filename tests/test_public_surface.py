"""Outside the accelerator modules the hub uses only its libraries' public surface, and with `OMNIMAN_ACCELERATE`
off no accelerator that reaches into a library's internals is even imported.

"Non-public" is read as Python spells it: a name with one leading underscore. The scan flags, outside
`ACCELERATORS`, an import of such a name (or from such a module) of another project, an attribute access `x._name`
where `_name` is defined nowhere in our own code (so it must be a library's), and a class of ours that overrides a
library base class's underscore method.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("omniman_gql", "schema", "tasks", "migrations", "tests")
PACKAGES = ("omniman_gql", "schema", "tasks")
# Each reaches into one library, pinned to its minor series in pyproject.toml, and is used only when accelerating.
ACCELERATORS = (
    "omniman_gql/infra/sqlite_driver.py",  # aiosqlite + SQLAlchemy's aiosqlite adapter
    "schema/accel_graphql_core/",  # graphql-core's executor
    "schema/accel_strawberry/",  # Strawberry's views, websocket handler, extension runner and input conversion
    "schema/accel_uvicorn.py",  # uvicorn's websocket transport
)
# Imported only when accelerating (the websocket and uvicorn ones are imported always and switched at run time:
# they touch no internals on import).
LAZY = ("omniman_gql.infra.sqlite_driver", "schema.accel_graphql_core", "schema.accel_graphql_core.executor",
        "schema.accel_strawberry.documents",
        "schema.accel_strawberry.hooks", "schema.accel_strawberry.http", "schema.accel_strawberry.inputs",
        "schema.accel_strawberry.planning")
PUBLIC_UNDERSCORE = {"_make", "_replace", "_asdict", "_fields"}  # namedtuple's public API
MACHINERY = {"_abc_impl", "_is_protocol", "_is_runtime_protocol"}  # set on a class by abc and typing, not by us


def _private(name: str) -> bool:
    """One leading underscore; not a dunder, nor a `_sunder_` name (the enum API Python documents)."""
    return name.startswith("_") and not name.endswith("_")


def _modules() -> dict[str, ast.Module]:
    return {str(path.relative_to(ROOT)): ast.parse(path.read_text())
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _defined_by_us(trees: dict[str, ast.Module]) -> set[str]:
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _private(node.value):
                names.add(node.value)  # __slots__ entries, getattr names
    return names


def _reaches(tree: ast.Module, ours: set[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] not in OURS:
            if any(_private(part) for part in node.module.split(".")):
                found.append(f"{node.lineno}: from {node.module}")
            found += [f"{node.lineno}: {node.module}.{alias.name}" for alias in node.names if _private(alias.name)]
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {alias.name}" for alias in node.names
                      if alias.name.split(".")[0] not in OURS and any(map(_private, alias.name.split(".")))]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in ours \
                and node.attr not in PUBLIC_UNDERSCORE:
            found.append(f"{node.lineno}: ._{node.attr[1:]}")
    return found


def test_only_the_accelerators_touch_a_librarys_private_names() -> None:
    trees = _modules()
    assert all(any(path.startswith(accelerator) for path in trees) for accelerator in ACCELERATORS), \
        "an accelerator listed here no longer exists"
    ours = _defined_by_us(trees)
    reaching = {path: hits for path, tree in trees.items() if not path.startswith(ACCELERATORS)
                if (hits := _reaches(tree, ours))}
    assert reaching == {}


def test_no_class_of_ours_overrides_a_librarys_private_method() -> None:
    overriding = []
    for path in _modules():
        if path.startswith(ACCELERATORS) or path.endswith("__main__.py"):
            continue
        module = importlib.import_module(path.removesuffix(".py").removesuffix("/__init__").replace("/", "."))
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            foreign = [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] not in OURS
                       and base.__module__ != "builtins"]
            overriding += [f"{cls.__module__}.{cls.__name__}.{name}" for name in vars(cls)
                           if _private(name) and name not in MACHINERY
                           and any(name in vars(base) for base in foreign)]
    assert overriding == []


PROBE = """
import json, sys
from starlette.testclient import TestClient
from schema.asgi import create_app
from omniman_gql.settings import Settings
from tests.graphql import authorize
settings = Settings(database_url=sys.argv[1])
with TestClient(create_app(settings, run_directives=False)) as client:
    authorize(client)  # without a token the document would not even be parsed, nor an accelerator reached
    answer = client.post("/graphql", json={"query": "mutation { __typename }"}).json()
print(json.dumps({"status": answer, "modules": sorted(m for m in sys.modules if m.startswith(("schema", "omniman")))}))
"""


def _imported(tmp_path: Path, accelerate: bool) -> tuple[object, set[str]]:
    env = {**os.environ, "OMNIMAN_ACCELERATE": "true" if accelerate else "false"}
    url = f"sqlite:///{tmp_path / ('on.db' if accelerate else 'off.db')}"
    subprocess.run([sys.executable, "-m", "omniman_gql.cli", "migrate"], cwd=ROOT, check=True, capture_output=True,
                   env={**env, "OMNIMAN_DATABASE_URL": url})
    done = subprocess.run([sys.executable, "-c", PROBE, url], cwd=ROOT, check=True, capture_output=True, text=True,
                          env=env)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["status"], set(report["modules"])


def test_with_the_switch_off_no_accelerator_is_imported(tmp_path: Path) -> None:
    status_off, off = _imported(tmp_path, accelerate=False)
    status_on, on = _imported(tmp_path, accelerate=True)
    assert status_off == status_on == {"data": {"__typename": "Mutation"}}  # answered either way
    assert off.isdisjoint(LAZY)
    assert set(LAZY) <= on  # and the list names what accelerating really loads

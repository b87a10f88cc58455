"""Installing the package: `pip install -e .` in a fresh virtualenv keeps every pinned dependency inside its pin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]

# The libraries an accelerator reaches past the public API of (omniman_gql/infra/sqlite_driver.py): each must stay
# pinned to the one minor series the accelerator was written and tested against.
ACCELERATED = ("sqlalchemy", "aiosqlite")


def pins() -> dict[str, Requirement]:
    """The dependencies of pyproject.toml with an upper bound (or an exact version), by canonical name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    return {canonicalize_name(r.name): r for r in requirements
            if any(s.operator in ("<", "<=", "==", "===", "~=") for s in r.specifier)}


@pytest.mark.parametrize("name", ACCELERATED)
def test_an_accelerated_library_is_pinned_to_one_minor_series(name: str) -> None:
    specifier = pins()[name].specifier
    (lower,) = [Version(s.version) for s in specifier if s.operator == ">="]
    (upper,) = [Version(s.version) for s in specifier if s.operator == "<"]
    assert upper.release == (lower.major, lower.minor + 1), str(specifier)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pip_install_e_in_a_fresh_venv_resolves_every_pin_inside_it(tmp_path: Path) -> None:
    # The project's metadata alone (pyproject.toml and the README it names): the resolution depends on nothing else,
    # and no build files land in the checkout.
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    report = tmp_path / "report.json"
    # --isolated: as on a clean machine, no pip configuration (local wheel directories, constraints) of this one.
    command = [str(venv / "bin" / "python"), "-m", "pip", "--isolated", "--disable-pip-version-check",
               "install", "--dry-run", "--quiet", "--report", str(report), "-e", str(project)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=840)
    if result.returncode != 0 and any(s in result.stderr for s in ("NewConnectionError", "Max retries exceeded",
                                                                  "Temporary failure in name resolution")):
        from tests.fixtures.db import service_missing

        service_missing("the package index (PyPI)")
    assert result.returncode == 0, result.stderr
    resolved = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
                for item in json.loads(report.read_text(encoding="utf-8"))["install"]}
    expected = {name: requirement for name, requirement in pins().items()
                if requirement.marker is None or requirement.marker.evaluate()}
    assert set(ACCELERATED) <= set(expected)
    outside = {name: (resolved.get(name), str(requirement.specifier)) for name, requirement in expected.items()
               if name not in resolved or not requirement.specifier.contains(resolved[name], prereleases=True)}
    assert outside == {}

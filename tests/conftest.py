"""Test configuration: database backends (`--db`), the anyio backend, and the shared fixture plugins."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.fixtures.db", "tests.fixtures.services", "tests.fixtures.app", "tests.fixtures.broker",
                  "tests.fixtures.stream"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("OMNIMAN_TEST_DBS", "sqlite,postgresql"),
        help="comma-separated database backends to run database tests on (sqlite, postgresql)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Before anything imports `tasks`: the broker is built from settings at import time.
    os.environ.setdefault("OMNIMAN_BROKER_NAMESPACE", f"omniman-test-{os.getpid()}")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"

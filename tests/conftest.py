"""Test configuration: database backends (`--db`), the anyio backend, and the shared fixture plugins."""

from __future__ import annotations

import os

import pytest

# Before the plugins below are imported: they import modules that read the (cached) settings and build the dramatiq
# broker from them at import time. Directive tests run on real Redis, in this run's own broker namespace.
os.environ.setdefault("OMNIMAN_BROKER_NAMESPACE", f"omniman-test-{os.getpid()}")
os.environ.setdefault("OMNIMAN_REDIS_URL", os.environ.get("OMNIMAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))

pytest_plugins = ["tests.fixtures.db", "tests.fixtures.services", "tests.fixtures.app", "tests.fixtures.broker",
                  "tests.fixtures.stream"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("OMNIMAN_TEST_DBS", "sqlite,postgresql"),
        help="comma-separated database backends to run database tests on (sqlite, postgresql)",
    )


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"

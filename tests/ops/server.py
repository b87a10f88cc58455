"""`omniman serve` (and other `omniman` commands) as real processes on a test's database, plus a small HTTP client."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from omniman_gql.runtime import Hub
from omniman_gql.services import auth
from omniman_gql.settings import Settings
from tests.fixtures.app import free_port, wait_for_health
from tests.test_cli_serve import omniman_command

STOP_DEADLINE_S = 15


# Passed through on purpose: the suite's `OMNIMAN_ACCELERATE=false` run must reach the served processes too, or the
# browser tests would only ever exercise the accelerated path.
PASSED_THROUGH = ("OMNIMAN_ACCELERATE",)


def clean_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: no OMNIMAN_* setting but the database, OMNIMAN_ACCELERATE (the run's mode)
    and `extra`; no Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIMAN_") or k in PASSED_THROUGH}
    return {**env, "OMNIMAN_DATABASE_URL": database_url, **extra}


def run_omniman(args: list[str], database_url: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*omniman_command(), *args], cwd=cwd, env=clean_env(database_url, **extra),
                          capture_output=True, text=True, timeout=120, check=False)


def admin_token(database_url: str, name: str = "ops-admin") -> str:
    """A new admin token in the test's database (created the way `omniman token create` does)."""
    async def create() -> str:
        hub = Hub.create(Settings(database_url=database_url, redis_url=None))
        try:
            _row, secret = await auth.create_token(hub, name=name, role="admin")
            return secret
        finally:
            await hub.dispose()

    return asyncio.run(create())


@dataclass
class Served:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def gql(self, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST an operation with `token`; the `data` of a response that must have no top-level errors."""
        response = httpx.post(f"{self.base_url}/graphql", json={"query": query, "variables": variables or {}},
                              headers={"Authorization": f"Bearer {token}"}, timeout=15)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, response.text
        return body["data"]  # type: ignore[no-any-return]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
                raise AssertionError(f"omniman serve ignored SIGTERM for {STOP_DEADLINE_S}s") from None
        return int(self.process.returncode)


@contextmanager
def omniman_serve(database_url: str, workdir: Path, *, port: int | None = None, **extra: str) -> Iterator[Served]:
    """`omniman serve` on `database_url` (embedded worker: no Redis), stopped afterwards whatever happens."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = workdir / f"serve-{port}.out", workdir / f"serve-{port}.err"
    with stdout.open("a") as out, stderr.open("a") as err:
        process = subprocess.Popen([*omniman_command(), "serve", "--port", str(port), "--log-level", "warning"],
                                   cwd=workdir, env=clean_env(database_url, **extra), stdout=out, stderr=err)
    served = Served(f"http://127.0.0.1:{port}", port, process, stdout, stderr)
    try:
        try:
            wait_for_health(served.base_url, deadline_s=30)
        except AssertionError:
            raise AssertionError(f"omniman serve did not start: {stderr.read_text()}") from None
        yield served
    finally:
        served.stop()

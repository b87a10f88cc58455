"""The TypeScript examples (examples/: Apollo Client 4, urql, GraphQL Code Generator) run with Node against a real
`omniman serve`: codegen + `tsc --noEmit`, a plain InMemoryCache following `transitionOrder`, Apollo's persisted
queries, urql, and a live order list that loses nothing across a hub restart."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.db import service_missing
from tests.ops.server import Served, admin_token, omniman_serve, run_omniman
from tests.ops.test_kds_browser import commit_directly, commit_over_api

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NODE_DEADLINE_S = 120
# `omniman serve` gets a clean environment: hand it this run's accelerator switch, so both ways are covered
ACCELERATE = {"OMNIMAN_ACCELERATE": os.environ["OMNIMAN_ACCELERATE"]} if "OMNIMAN_ACCELERATE" in os.environ else {}


def _run(args: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=EXAMPLES, capture_output=True, text=True, check=False, **options)


@pytest.fixture(scope="module")
def examples() -> Path:
    """examples/ ready to run: `npm ci` when node_modules is missing or older than the lock file, then codegen."""
    if not shutil.which("node") or not shutil.which("npm"):
        service_missing("Node.js 20 and npm (apt-get install nodejs npm)")
    installed = EXAMPLES / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < (EXAMPLES / "package-lock.json").stat().st_mtime:
        done = _run(["npm", "ci", "--no-audit", "--no-fund"], timeout=600)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    generated = _run([str(EXAMPLES / "node_modules/.bin/graphql-codegen"), "--config", "codegen.ts"], timeout=120)
    assert generated.returncode == 0, f"codegen failed:\n{generated.stdout}\n{generated.stderr}"
    return EXAMPLES


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[tuple[Served, str]]:
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    token = admin_token(database_url)
    with omniman_serve(database_url, tmp_path, **ACCELERATE) as server:
        yield server, token


def node_env(server: Served, token: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "OMNIMAN_URL": server.base_url, "OMNIMAN_TOKEN": token, **extra}


def tsx(script: str) -> list[str]:
    return [str(EXAMPLES / "node_modules/.bin/tsx"), script]


def result_of(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT line in:\n{output}"
    return json.loads(lines[-1][len("RESULT "):])  # type: ignore[no-any-return]


def run_example(script: str, server: Served, token: str) -> dict[str, Any]:
    done = _run(tsx(script), env=node_env(server, token), timeout=NODE_DEADLINE_S)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return result_of(done.stdout)


def test_codegen_types_compile(examples: Path) -> None:
    """The generated types (Decimal and DateTime as string, JSON as unknown) and every example pass `tsc --noEmit`."""
    generated = (examples / "src/gql/graphql.ts").read_text()
    assert "Decimal: { input: string; output: string; }" in generated
    assert "DateTime: { input: string; output: string; }" in generated
    assert "JSON: { input: unknown; output: unknown; }" in generated
    checked = _run([str(examples / "node_modules/.bin/tsc"), "--noEmit"], timeout=NODE_DEADLINE_S)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_apollo_plain_cache_follows_transition_order(examples: Path, hub: tuple[Served, str]) -> None:
    result = run_example("apollo/cache-after-transition.ts", *hub)
    assert result["statuses"][-1] == "confirmed" and "new" in result["statuses"]
    assert result["listFetches"] == 1  # the list was never refetched: the cache updated it


def test_apollo_persisted_queries(examples: Path, hub: tuple[Served, str]) -> None:
    result = run_example("apollo/persisted-queries.ts", *hub)
    first, other = result["first"], result["other"]
    assert first[0]["hashOnly"] and first[0]["codes"] == ["PERSISTED_QUERY_NOT_FOUND"]
    assert first[1]["hasQuery"] and first[1]["ok"]
    assert first[2]["hashOnly"] and first[2]["ok"] and other == [first[2]]


def test_urql_query_and_subscription(examples: Path, hub: tuple[Served, str]) -> None:
    result = run_example("urql/orders-and-events.ts", *hub)
    assert result["ref"] and result["events"] >= 1 and result["listed"] >= 1


def read_line(process: subprocess.Popen[str], prefix: str, deadline_s: float) -> str:
    """The first line of the process's stdout starting with `prefix` (others are echoed for the failure message)."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith(prefix):
                return line.strip()
            seen.append(line)
    process.kill()
    raise AssertionError(f"no {prefix!r} line; output: {''.join(seen)}; errors: {process.stderr.read()}")  # type: ignore[union-attr]


def restart_mid_subscription(database_url: str, tmp_path: Path, resume: str) -> tuple[dict[str, Any], list[str]]:
    """The restart script live on a hub; the hub stopped, two orders committed while it is down, started again on the
    same port and one order committed at once (before the client is back); then the script's last order."""
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    token = admin_token(database_url)
    server = omniman_serve(database_url, tmp_path, **ACCELERATE)
    served = server.__enter__()
    node = subprocess.Popen(tsx("apollo/resume-across-restart.ts"), cwd=EXAMPLES, text=True,
                            env=node_env(served, token, OMNIMAN_EXAMPLE_RESUME=resume),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        try:
            first = read_line(node, "READY ", 60).split()[1]
        finally:
            server.__exit__(None, None, None)
        meanwhile = [commit_directly(database_url, f"DOWN-{i}") for i in (1, 2)]
        with omniman_serve(database_url, tmp_path, port=served.port, **ACCELERATE) as again:
            meanwhile.append(commit_over_api(again, token, "BACK-1", "7"))
            assert node.stdin is not None
            node.stdin.write("GO\n")
            node.stdin.flush()
            out, err = node.communicate(timeout=NODE_DEADLINE_S)
    finally:
        if node.poll() is None:  # a failure above: do not leave the client running
            node.kill()
            node.wait(timeout=10)
    assert node.returncode == 0, f"{out}\n{err}"
    result = result_of(out)
    assert result["first"] == first
    return result, meanwhile


def test_apollo_live_list_loses_nothing_across_a_hub_restart(examples: Path, database_url: str,
                                                             tmp_path: Path) -> None:
    result, meanwhile = restart_mid_subscription(database_url, tmp_path, "on")
    received = result["received"]
    created = [m["ref"] for m in received if m["type"] == "created"]
    after_first = created[created.index(result["first"]) + 1:]
    # every order committed while the hub was down and right after, then the last one: each once, in order
    assert after_first == [*meanwhile, result["last"]], received
    ids = [m["eventId"] for m in received]
    assert len(ids) == len(set(ids)), f"an event came twice: {received}"
    assert result["reconnects"] >= 1 and result["errors"] == []


def test_without_the_helper_a_restart_loses_events(examples: Path, database_url: str, tmp_path: Path) -> None:
    """The same run with Apollo's plain GraphQLWsLink: graphql-ws re-subscribes with `after: null` ("from now"), so
    the orders committed while the hub was down never arrive (what the helper is for; this keeps the test honest)."""
    result, meanwhile = restart_mid_subscription(database_url, tmp_path, "off")
    created = [m["ref"] for m in result["received"] if m["type"] == "created"]
    assert not set(meanwhile[:2]) & set(created) and result["last"] in created

"""`omniman serve` as a user runs it: a real process, no settings, a fresh directory; quick start; clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from omniman_gql.cli import build_parser
from schema.quickstart import OPERATIONS, QUICK_START
from tests.fixtures.app import free_port, wait_for_health

STOP_DEADLINE_S = 15


def omniman_command() -> list[str]:
    script = Path(sys.executable).with_name("omniman")
    return [str(script)] if script.exists() else [sys.executable, "-m", "omniman_gql.cli"]


@pytest.mark.slow
def test_omniman_serve_runs_the_quick_start_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIMAN_")}  # no settings at all
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen([*omniman_command(), "serve", "--port", str(port)], cwd=tmp_path, env=env,
                                   stdout=stdout, stderr=stderr)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_health(base_url, deadline_s=30)
        # A fresh database has no tokens: serve made an admin token and printed it, once, before serving.
        token = re.search(r"^\s+(omn_\S+)$", out.read_text(), re.MULTILINE)
        assert token is not None, out.read_text()
        with httpx.Client(base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {token[1]}"}) as client:
            results = {}
            for name in (*OPERATIONS, "Commit"):
                response = client.post("/graphql", json={"query": QUICK_START, "operationName": name})
                assert response.status_code == 200 and "errors" not in response.json(), response.text
                results.setdefault(name, []).append(response.json()["data"])
            # the kitchen display signs in with `?token=`: the access log keeps the request, not the token
            assert client.get(f"/kds?channels=pos&token={token[1]}", headers={"Authorization": ""}).status_code == 200
        first, again = (r["commitSession"] for r in results["Commit"])
        assert first["errors"] == [] and first["result"]["totalQ"] == 1950 and first["replayed"] is False
        assert again["result"]["orderRef"] == first["result"]["orderRef"] and again["replayed"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            raise AssertionError(f"omniman serve ignored SIGTERM for {STOP_DEADLINE_S}s") from None
    printed, logged = out.read_text(), err.read_text()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how the process ended
    assert code in (0, -signal.SIGTERM), logged
    assert "Application shutdown complete" in logged, logged
    assert f"GraphiQL: http://127.0.0.1:{port}/graphql" in printed
    assert printed.count("omn_") == 2 and "API token" in printed  # the token, and how to use it
    assert '"GET /kds?channels=pos&token=[redacted] HTTP/1.1" 200' in printed, printed
    assert (tmp_path / "omniman.db").exists(), "the embedded default database is ./omniman.db"


def test_every_command_has_help() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"serve", "migrate", "schema"} <= set(commands)
    for name, sub in commands.items():
        assert sub.description, name
    assert "--workers" in commands["serve"].format_help() and "--reload" in commands["serve"].format_help()


def test_schema_export_prints_the_checked_in_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    from omniman_gql.cli import main

    assert main(["schema", "export"]) == 0
    sdl = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"
    assert capsys.readouterr().out == sdl.read_text(encoding="utf-8")


def test_migrate_creates_an_empty_sqlite_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import create_engine, inspect

    from omniman_gql.cli import main
    from omniman_gql.settings import get_settings

    path = tmp_path / "sub" / "hub.db"
    monkeypatch.setenv("OMNIMAN_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    try:
        assert main(["migrate"]) == 0
    finally:
        get_settings.cache_clear()
    engine = create_engine(f"sqlite:///{path}")
    assert {"orders", "sessions", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()

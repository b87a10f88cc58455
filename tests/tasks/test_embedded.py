"""The embedded default: with no Redis, directives run on the in-process broker inside the same process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from omniman_gql.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_without_redis_the_embedded_worker_runs_holds_commits_captures_and_retries(
    task_settings: Settings, database_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMNIMAN_REDIS_URL"}
    env.update(OMNIMAN_DATABASE_URL=database_url, OMNIMAN_EXTRA_HANDLER_MODULES=task_settings.extra_handler_modules[0],
               OMNIMAN_DIRECTIVE_BACKOFF_MS="20", OMNIMAN_WORKER_TIMEOUT_MS="20", PYTHONPATH=str(ROOT))

    run = subprocess.run([sys.executable, "-m", "tests.tasks.embedded_probe"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)

    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["broker"] == "StubBroker"
    assert report["directives"] == [["stock.commit", "done"], ["payment.capture", "done"]]
    assert report["flaky"] == ["done", 2]
    assert report["on_hand"] == "8"
    print(f"embedded: commit → post-commit directives done: {report['in_db_ms']} ms (row timestamps), "
          f"{report['latency_ms']} ms observed by polling")

"""bench/graphql_layer.py runs the checkout through the in-process app (with the services, and with them stubbed) and
reports its counts (timings are never asserted here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ops.test_bench_scripts import run_bench


@pytest.mark.parametrize("stub", [False, True], ids=["services", "stubbed"])
def test_the_layer_bench_runs_checkouts_in_process(tmp_path: Path, stub: bool) -> None:
    args = ["--database-url", f"sqlite:///{tmp_path}/layer.db", "--repeat", "2", "--rounds", "1"]
    report = run_bench("graphql_layer.py", *args, *(["--stub-services"] if stub else []))
    assert report["bench"] == "graphql_layer" and report["stub_services"] is stub
    calls = report["python_calls"]
    assert calls["app"] > 0
    if not stub:
        assert calls["layer"] == calls["app"] - calls["services"] > 0

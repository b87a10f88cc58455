"""The bench scripts run against a real `omniman serve` and count honestly (timings are never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.ops.server import Served, admin_token, omniman_serve

BENCH = Path(__file__).resolve().parents[2] / "bench"
ORDERS = """query($channel: String!, $after: String) {
  orders(channelCode: $channel, first: 100, after: $after) {
    edges { node { ref } } pageInfo { hasNextPage endCursor } } }"""


def run_bench(script: str, *args: str) -> dict[str, Any]:
    """Run a bench script to completion; its one JSON line."""
    done = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=BENCH, capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.strip().splitlines()
    return json.loads(line)  # type: ignore[no-any-return]


def orders_in(server: Served, token: str, channel: str) -> int:
    count, after = 0, None
    while True:
        page = server.gql(token, ORDERS, {"channel": channel, "after": after})["orders"]
        count += len(page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return count
        after = page["pageInfo"]["endCursor"]


def test_each_checkout_the_bench_counts_is_an_order(database_url: str, tmp_path: Path) -> None:
    token = admin_token(database_url)
    with omniman_serve(database_url, tmp_path) as server:
        report = run_bench("checkout.py", "--url", f"{server.base_url}/graphql", "--token", token,
                           "-c", "3", "-d", "1", "--warmup", "0", "--server-pid", str(server.process.pid))
        assert report["error_total"] == 0, report["error_examples"]
        assert report["checkouts"] > 0
        # no warm-up: every checkout begun is measured, and each one committed exactly one order
        assert orders_in(server, token, report["channel"]) == report["checkouts"]
        assert report["latency_ms"]["commitSession"]["n"] == report["checkouts"]
        assert report["server_cpu_ms_per_checkout"] > 0


def test_a_failing_checkout_is_counted_as_an_error_never_a_success(database_url: str, tmp_path: Path) -> None:
    with omniman_serve(database_url, tmp_path) as server:
        report = run_bench("checkout.py", "--url", f"{server.base_url}/graphql", "--token", "omn_not-a-live-token",
                           "--channel", "any", "--no-setup", "-c", "2", "-d", "0.5", "--warmup", "0")
    assert report["checkouts"] == 0 and report["checkouts_per_s"] == 0
    # A bad token is UNAUTHENTICATED up to the address's bad-token rate (50 a minute), then 429 RATE_LIMITED
    assert set(report["errors"]) <= {"openSession:top:UNAUTHENTICATED", "openSession:http:429"}
    assert 0 < report["errors"]["openSession:top:UNAUTHENTICATED"] <= 50
    assert report["error_total"] == sum(report["errors"].values())


def test_stream_and_directive_benches_see_every_event(database_url: str, tmp_path: Path) -> None:
    token = admin_token(database_url)
    with omniman_serve(database_url, tmp_path) as server:
        url = f"{server.base_url}/graphql"
        stream = run_bench("stream.py", "--url", url, "--token", token, "--subscribers", "1,3", "--events", "4",
                           "--rate", "20", "--server-pid", str(server.process.pid), "--client-processes", "2")
        assert [level["client_processes"] for level in stream["levels"]] == [1, 2]  # in process, then 2 workers
        for level in stream["levels"]:
            assert level["lost"] == 0 and level["errors"] == {} and level["commit_errors"] == {}
            assert level["messages"] == level["subscribers"] * level["events"] == level["subscribers"] * 4
        directives = run_bench("directives.py", "--url", url, "--token", token, "--orders", "3", "--rate", "20",
                               "--burst-orders", "2", "--per-order", "5")
    assert directives["latency"]["statuses"] == {"done": 3}, directives
    assert directives["throughput"]["statuses"] == {"done": 10}, directives


def test_tokenless_bench_times_the_innocent_request_and_counts_every_refusal(database_url: str,
                                                                            tmp_path: Path) -> None:
    token = admin_token(database_url)
    with omniman_serve(database_url, tmp_path) as server:
        report = run_bench("tokenless.py", "--url", f"{server.base_url}/graphql", "--token", token,
                           "--attackers", "2", "--duration", "0.5", "--baseline", "0.3", "--warmup", "0.1")
    assert report["innocent_errors"] == {}
    assert report["innocent_ms"]["alone"]["n"] > 0 and report["innocent_ms"]["under_attack"]["n"] > 0
    assert set(report["attack_answers"]) == {"top:UNAUTHENTICATED"}  # refused unread, never validated
    assert report["attack_answers"]["top:UNAUTHENTICATED"] > 0 and report["document_bytes"] > 9000

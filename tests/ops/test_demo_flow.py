"""A new user's first hour: `omniman demo`, `omniman serve` (embedded worker), then the web shop's flow over the API:
stock check, a short-stock issue resolved, commit, stock committed and payment captured by the worker, cancel with
release and refund; `/metrics` and the JSON logs tell what happened."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ops.server import Served, admin_token, omniman_serve, run_omniman

pytestmark = pytest.mark.slow

SESSION_FIELDS = "rev checks issues { code blocking actions { id label } id } items { lineId sku qty unitPriceQ }"
OPEN = "mutation Open($input: OpenSessionInput!) { openSession(input: $input) { session { rev } errors { code } } }"
MODIFY = f"""mutation Modify($input: ModifySessionInput!) {{
  modifySession(input: $input) {{ session {{ {SESSION_FIELDS} }} errors {{ code message }} }} }}"""
SESSION = f"""query Session($channelCode: String!, $sessionKey: String!) {{
  session(channelCode: $channelCode, sessionKey: $sessionKey) {{ {SESSION_FIELDS} }} }}"""
RESOLVE = f"""mutation Resolve($input: ResolveIssueInput!) {{
  resolveIssue(input: $input) {{ session {{ {SESSION_FIELDS} }} errors {{ code message }} }} }}"""
COMMIT = """mutation Commit($input: CommitSessionInput!) {
  commitSession(input: $input) { result { orderRef totalQ } errors { code message context } } }"""
ORDER = """query Order($ref: String!) { order(ref: $ref) {
  status totalQ directives { topic status lastError } events { type } } }"""
TRANSITION = """mutation Move($input: TransitionOrderInput!) {
  transitionOrder(input: $input) { order { status } errors { code } } }"""
STOCK = "query Stock($skus: [String!]) { stockLevels(skus: $skus) { sku onHand held available } }"
WEB = {"channelCode": "ecommerce", "sessionKey": "WEB-1"}


def eventually(read: Callable[[], Any], accept: Callable[[Any], bool], *, timeout: float = 20.0,
               what: str = "the condition") -> Any:
    """Poll `read()` until `accept` holds (the worker runs directives asynchronously); bounded."""
    deadline = time.monotonic() + timeout
    value = read()
    while not accept(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s; last: {value}")
        time.sleep(0.05)
        value = read()
    return value


def session(server: Served, token: str) -> dict[str, Any]:
    return server.gql(token, SESSION, WEB)["session"]  # type: ignore[no-any-return]


def checked(server: Served, token: str) -> dict[str, Any]:
    """The session once the worker has written its stock check for the current rev."""
    return eventually(lambda: session(server, token),
                      lambda s: (s["checks"].get("stock") or {}).get("rev") == s["rev"], what="the stock check")


def test_demo_then_the_web_shop_flow_with_the_worker(database_url: str, tmp_path: Path) -> None:
    seeded = run_omniman(["demo"], database_url, tmp_path)
    assert seeded.returncode == 0 and "channel ecommerce  created" in seeded.stdout, seeded.stderr
    token = admin_token(database_url, name="shop-admin")
    with omniman_serve(database_url, tmp_path, OMNIMAN_LOG_JSON="true") as server:
        # A cart with 2 coffees and 5 cheesecakes; only 3 cheesecakes are in stock
        server.gql(token, OPEN, {"input": {**WEB, "data": {"customer": {"name": "Ana"},
                                                            "payment": {"intent_id": "pi_demo_1"}}}})
        server.gql(token, MODIFY, {"input": {**WEB, "ops": [{"addLine": {"sku": "COFFEE", "qty": "2"}},
                                                            {"addLine": {"sku": "CHEESECAKE", "qty": "5"}}]}})
        cart = checked(server, token)
        [issue] = cart["issues"]
        assert (issue["code"], issue["blocking"]) == ("stock.insufficient", True)
        blocked = server.gql(token, COMMIT, {"input": {**WEB, "idempotencyKey": "web-1"}})["commitSession"]
        assert [e["code"] for e in blocked["errors"]] == ["blocking_issues"]

        # The shopper takes the suggested "Adjust to 3"; the check runs again and holds the stock
        adjust = next(a for a in issue["actions"] if a["label"] == "Adjust to 3")
        resolved = server.gql(token, RESOLVE, {"input": {**WEB, "issueId": issue["id"], "actionId": adjust["id"]}})
        assert resolved["resolveIssue"]["errors"] == []
        cart = checked(server, token)
        assert cart["issues"] == [] and [i["qty"] for i in cart["items"]] == ["2", "3"]
        held = {s["sku"]: s for s in server.gql(token, STOCK, {"skus": ["CHEESECAKE"]})["stockLevels"]}
        assert (held["CHEESECAKE"]["held"], held["CHEESECAKE"]["available"]) == ("3", "0")

        # Commit: the worker commits the stock and captures the payment
        result = server.gql(token, COMMIT, {"input": {**WEB, "idempotencyKey": "web-1"}})["commitSession"]
        assert result["errors"] == [] and result["result"]["totalQ"] == 2 * 550 + 3 * 1200
        ref = result["result"]["orderRef"]
        order = eventually(lambda: server.gql(token, ORDER, {"ref": ref})["order"],
                           lambda o: {d["topic"]: d["status"] for d in o["directives"]}
                           == {"stock.commit": "DONE", "payment.capture": "DONE"}, what="the post-commit directives")
        assert "payment.captured" in [e["type"] for e in order["events"]]
        levels = {s["sku"]: s for s in server.gql(token, STOCK, {"skus": ["CHEESECAKE", "COFFEE"]})["stockLevels"]}
        assert (levels["CHEESECAKE"]["onHand"], levels["CHEESECAKE"]["held"]) == ("0", "0")
        assert levels["COFFEE"]["onHand"] == "498"

        # Cancel: the sold stock goes back on the shelf, holds are released, the payment is refunded
        moved = server.gql(token, TRANSITION, {"input": {"ref": ref, "status": "cancelled"}})["transitionOrder"]
        assert moved == {"order": {"status": "cancelled"}, "errors": []}
        order = eventually(lambda: server.gql(token, ORDER, {"ref": ref})["order"],
                           lambda o: len(o["directives"]) == 5 and all(d["status"] == "DONE" for d in o["directives"]),
                           what="the restock, the release and the refund")
        assert sorted(d["topic"] for d in order["directives"]) == [
            "payment.capture", "payment.refund", "stock.commit", "stock.release", "stock.restock"]
        assert {"stock.restocked", "payment.refunded"} <= {e["type"] for e in order["events"]}
        levels = {s["sku"]: s for s in server.gql(token, STOCK, {"skus": ["CHEESECAKE", "COFFEE"]})["stockLevels"]}
        assert (levels["CHEESECAKE"]["onHand"], levels["COFFEE"]["onHand"]) == ("3", "500")

        metrics = httpx.get(f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {token}"},
                            timeout=5).text
    assert re.search(r'^omniman_directive_runs_total\{outcome="done",topic="payment.capture"\} 1\.0$', metrics, re.M)
    assert re.search(r'^omniman_directive_runs_total\{outcome="done",topic="stock.hold"\} [1-9]', metrics, re.M)
    assert re.search(r'^omniman_graphql_requests_total\{operation="commitSession",outcome="rejected",'
                     r'type="mutation"\} 1\.0$', metrics, re.M)
    lines = [json.loads(line) for line in server.stdout.read_text().splitlines() if line.startswith("{")]
    commits = [line for line in lines if line.get("operation") == "commitSession"]
    assert [c["outcome"] for c in commits] == ["rejected", "ok"] and {c["actor"] for c in commits} <= {"shop-admin",
                                                                                                     "anonymous"}
    runs = {(line["topic"], line["outcome"]) for line in lines if line["logger"] == "omniman.directive_runs"}
    assert {("stock.commit", "done"), ("payment.capture", "done"), ("payment.refund", "done")} <= runs

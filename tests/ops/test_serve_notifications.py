"""The console notifier's notifications in `omniman serve`'s own output: one line each, JSON with JSON logs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.ops.server import Served, admin_token, omniman_serve, run_omniman

pytestmark = pytest.mark.slow

UPSERT = """mutation Upsert($input: ChannelInput!) { upsertChannel(input: $input) { errors { code message } } }"""
IMPORT = """mutation Import($input: ImportOrderInput!) {
  importOrder(input: $input) { order { ref } errors { code } } }"""
TRANSITION = """mutation Move($input: TransitionOrderInput!) {
  transitionOrder(input: $input) { order { status } errors { code } } }"""


def confirm_an_order(server: Served, token: str) -> str:
    """A channel notifying on `confirmed`, an imported order, confirmed; returns the order's ref."""
    assert server.gql(token, UPSERT, {"input": {"code": "bar", "config": {
        "on_status": {"confirmed": ["notification.send"]}, "notifications": {"recipient": "front-desk"}}}}
    )["upsertChannel"]["errors"] == []
    ref = server.gql(token, IMPORT, {"input": {"channelCode": "bar", "externalRef": "X-1", "items": [
        {"sku": "BEER", "qty": "2", "unitPriceQ": 900}]}})["importOrder"]["order"]["ref"]
    assert server.gql(token, TRANSITION, {"input": {"ref": ref, "status": "confirmed"}}
                      )["transitionOrder"]["errors"] == []
    return str(ref)


def printed(server: Served, needle: str, *, timeout: float = 10.0) -> list[str]:
    """The lines of the server's stdout holding `needle`, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in server.stdout.read_text().splitlines() if needle in line]
        if lines:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no {needle!r} in the server's output: {server.stdout.read_text()[-2000:]}")


def test_serve_prints_one_line_per_console_notification(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["migrate"], database_url, tmp_path).returncode == 0
    token = admin_token(database_url)
    with omniman_serve(database_url, tmp_path) as server:
        ref = confirm_an_order(server, token)
        (line,) = printed(server, "notification order.confirmed")

    head, body = line.split(": ", 1)
    assert head == "notification order.confirmed to front-desk"
    assert {k: json.loads(body)[k] for k in ("order_ref", "status", "channel_code")} == {
        "order_ref": ref, "status": "confirmed", "channel_code": "bar"}


def test_serve_prints_notifications_as_json_lines_with_json_logs(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["migrate"], database_url, tmp_path).returncode == 0
    token = admin_token(database_url)
    with omniman_serve(database_url, tmp_path, OMNIMAN_LOG_JSON="true") as server:
        ref = confirm_an_order(server, token)
        (line,) = printed(server, '"omniman.notifications"')

    doc = json.loads(line)
    assert (doc["event"], doc["topic"], doc["recipient"]) == ("notification", "order.confirmed", "front-desk")
    assert doc["message"]["order_ref"] == ref

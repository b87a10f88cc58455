"""`notification.send` through the console notifier and a real HTTP webhook (signed, bounded by a timeout)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from omniman_gql.registry import build_registry
from omniman_gql.runtime import Hub
from omniman_gql.services import directives as svc
from omniman_gql.settings import Settings
from tests.factories import make_channel
from tests.tasks.support import directive, enqueue

pytestmark = pytest.mark.anyio
SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    """A local HTTP endpoint that records each POST; `status` and `delay_s` shape its answer."""

    url: str = ""
    status: int = 204
    delay_s: float = 0.0
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
            time.sleep(state.delay_s)
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/omniman"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def webhook_hub(settings: Settings, receiver: Receiver, *, timeout_s: float = 2.0) -> Hub:
    return Hub.create(settings.model_copy(update={"webhook_url": receiver.url, "webhook_secret": SECRET,
                                                  "webhook_timeout_s": timeout_s}))


async def test_console_notification_is_printed_with_its_delivery_id(
    task_hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = await make_channel(task_hub)
    directive_id = await enqueue(task_hub, "notification.send", {
        "channel_code": channel, "order_ref": "ORD-1", "status": "ready", "recipient": "kitchen"})

    outcome = await svc.run_directive(task_hub, directive_id)

    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("notification ")]
    assert outcome.status == "done"
    assert line == ("notification order.ready to kitchen: "
                                   f'{{"channel_code": "{channel}", "order_ref": "ORD-1", "status": "ready", '
                                   f'"delivery_id": {directive_id}}}')


async def test_webhook_posts_a_signed_json_body(task_settings: Settings, receiver: Receiver) -> None:
    hub = await webhook_hub(task_settings, receiver)
    try:
        channel = await make_channel(hub)
        directive_id = await enqueue(hub, "notification.send", {
            "channel_code": channel, "order_ref": "ORD-2", "status": "dispatched"})
        outcome = await svc.run_directive(hub, directive_id)
    finally:
        await hub.dispose()

    ((headers, body),) = receiver.calls
    assert outcome.status == "done"
    assert headers["x-omniman-signature"] == hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["content-type"] == "application/json"
    assert headers["x-omniman-delivery"] == str(directive_id)
    assert json.loads(body) == {"topic": "order.dispatched", "recipient": "", "message": {
        "channel_code": channel, "order_ref": "ORD-2", "status": "dispatched", "delivery_id": directive_id}}


async def test_webhook_that_times_out_is_retried_with_the_reason(task_settings: Settings, receiver: Receiver) -> None:
    receiver.delay_s = 1.0
    hub = await webhook_hub(task_settings, receiver, timeout_s=0.2)
    try:
        directive_id = await enqueue(hub, "notification.send", {"backend": "webhook", "message": {"hello": 1}})
        started = time.monotonic()
        outcome = await svc.run_directive(hub, directive_id)
        took = time.monotonic() - started
        row = await directive(hub, directive_id)
    finally:
        await hub.dispose()

    assert outcome.status == "queued" and took < 0.9
    assert row.last_error.startswith("ReadTimeout")


async def test_webhook_answering_500_is_retried(task_settings: Settings, receiver: Receiver) -> None:
    receiver.status = 500
    hub = await webhook_hub(task_settings, receiver)
    try:
        directive_id = await enqueue(hub, "notification.send", {"backend": "webhook", "message": {"hello": 1}})
        outcome = await svc.run_directive(hub, directive_id)
        row = await directive(hub, directive_id)
    finally:
        await hub.dispose()

    assert outcome.status == "queued"
    assert row.last_error.startswith("HTTPStatusError: Server error '500 Internal Server Error'")


async def test_unknown_notifier_fails_at_once(task_hub: Hub) -> None:
    directive_id = await enqueue(task_hub, "notification.send", {"backend": "pigeon", "message": {}})

    outcome = await svc.run_directive(task_hub, directive_id)

    row = await directive(task_hub, directive_id)
    assert outcome.status == "failed"
    assert row.last_error == "DirectiveFailed: no notifier 'pigeon' (configured: console)"


def test_a_webhook_without_a_signing_secret_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="OMNIMAN_WEBHOOK_SECRET"):
        build_registry(Settings(webhook_url="http://127.0.0.1:9/hook"))


async def test_console_notification_is_one_json_line_when_json_logs_are_on(
    task_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = task_settings.model_copy(update={"log_json": True})
    hub = Hub.create(settings, registry=build_registry(settings))
    try:
        directive_id = await enqueue(hub, "notification.send", {"order_ref": "ORD-2", "status": "ready",
                                                                "recipient": "bar"})
        outcome = await svc.run_directive(hub, directive_id)
    finally:
        await hub.dispose()

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"omniman.notifications"' in line]
    assert outcome.status == "done"
    assert [{k: v for k, v in line.items() if k != "ts"} for line in lines] == [{
        "level": "info", "logger": "omniman.notifications", "event": "notification", "topic": "order.ready",
        "recipient": "bar", "message": {"order_ref": "ORD-2", "status": "ready", "delivery_id": directive_id}}]

"""The operator console in a real headless Chromium against a real `omniman serve`: a display token is refused at
sign-in; a staff token signs in, sees an order committed over the API within a second and confirms it from its page;
an admin sees the failed-directive banner and retries the directive until it is done; a channel config edit with an
unknown key shows the server's error at its path and saves nothing. (The docs' screenshots come from
test_console_refs.py, whose orders carry tickets.)"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from omniman_gql.models import Directive
from omniman_gql.runtime import Hub
from omniman_gql.services import auth, outbox
from omniman_gql.settings import Settings
from schema.types.node import global_id
from tests.ops.cdp import Page, chromium
from tests.ops.server import Served, admin_token, omniman_serve, run_omniman
from tests.ops.test_kds_browser import commit_directly, commit_over_api, subscribers, wait_until

pytestmark = pytest.mark.slow

ROW = "document.querySelector('#orders-body tr[data-ref=\"{ref}\"]')"
TRANSITION = "mutation($input: TransitionOrderInput!) { transitionOrder(input: $input) { errors { code } } }"
CHANNEL = "query { channel(code: \"pos\") { config history { at } } }"
DIRECTIVES = "query { directives(first: 100) { edges { node { id status } } } }"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def token(database_url: str, role: str, channels: list[str] | None = None) -> str:
    async def create() -> str:
        hub = Hub.create(Settings(database_url=database_url, redis_url=None))
        try:
            _row, secret = await auth.create_token(hub, name=f"console-{role}", role=role, channels=channels or [])
            return secret
        finally:
            await hub.dispose()

    return asyncio.run(create())


def failed_directive(database_url: str) -> int:
    """A notification that gave up (written beside the server, as a worker would have left it)."""
    async def write() -> int:
        hub = Hub.create(Settings(database_url=database_url, redis_url=None))
        try:
            async with hub.transaction() as uow:
                row = await outbox.enqueue(uow, "notification.send", {"channel_code": "pos", "message": "console"})
                await uow.db.execute(update(Directive).where(col(Directive.id) == row.id).values(
                    status="failed", attempts=5, last_error="RuntimeError: the printer is offline"))
            return int(row.id or 0)
        finally:
            await hub.dispose()

    return asyncio.run(write())


def sign_in(page: Page, secret: str) -> None:
    page.wait_for("document.getElementById('signin').open")
    page.evaluate(f"document.getElementById('signin-token').value = {json.dumps(secret)}")
    page.evaluate("document.getElementById('signin-form').requestSubmit()")


def directive_status(server: Served, admin: str, directive_id: str) -> str | None:
    edges = server.gql(admin, DIRECTIVES)["directives"]["edges"]
    return next((e["node"]["status"] for e in edges if e["node"]["id"] == directive_id), None)


def keep(shot: Path, name: str) -> None:
    if os.environ.get("OMNIMAN_CONSOLE_SCREENSHOTS") == "docs":
        shutil.copy(shot, DOCS / name)


def test_the_console_end_to_end(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    admin = admin_token(database_url, name="console-admin")
    staff = token(database_url, "staff")
    display = token(database_url, "display", ["pos"])
    with omniman_serve(database_url, tmp_path) as server, chromium(tmp_path / "profile") as page:
        # A display token is refused at sign-in, with a clear message, and is not kept
        page.navigate(f"{server.base_url}/console")
        sign_in(page, display)
        page.wait_for("document.getElementById('signin-reason').dataset.refused === 'true'")
        assert "display token" in page.evaluate("document.getElementById('signin-reason').textContent")
        assert page.evaluate("localStorage.getItem('omniman.console.token')") is None
        assert page.evaluate("document.getElementById('signin').open")

        # A staff token signs in: the orders list, live
        sign_in(page, staff)
        page.wait_for("document.body.dataset.state === 'ready' && document.getElementById('orders-body') !== null")
        assert page.evaluate("location.href") == f"{server.base_url}/console", "no token in the address"
        page.wait_for("document.getElementById('connection').dataset.state === 'live'")
        wait_until(lambda: subscribers(server, admin) >= 1, timeout=10, what="the console's subscription")

        # An order committed over the API appears in the list within a second
        ref = commit_over_api(server, admin, "CONSOLE-1", "7")
        committed_at = time.monotonic()
        page.wait_for(ROW.format(ref=ref) + " !== null", timeout=5, interval=0.01)
        shown_after = time.monotonic() - committed_at
        print(f"order shown {shown_after * 1000:.0f} ms after the commit's response")
        assert shown_after < 1.0, f"the order took {shown_after:.3f}s"
        assert page.evaluate(ROW.format(ref=ref) + ".dataset.status") == "new"

        # Confirmed from its page: the page and then the list show the new status
        page.click(f'#orders-body tr[data-ref="{ref}"] a')
        page.wait_for("document.querySelector('#transitions button[data-transition=\"confirmed\"]') !== null")
        text = page.evaluate("document.getElementById('view').innerText")
        assert "Coffee" in text and "BRL 19.50" in text and "object HTMLElement" not in text
        page.click('#transitions button[data-transition="confirmed"]')
        page.wait_for("document.getElementById('order-status')?.textContent === 'confirmed'")
        page.evaluate("location.hash = '#/orders'")
        page.wait_for(ROW.format(ref=ref) + "?.dataset.status === 'confirmed'")
        # and a change made elsewhere moves the row in place, live
        server.gql(admin, TRANSITION, {"input": {"ref": ref, "status": "processing"}})
        page.wait_for(ROW.format(ref=ref) + "?.dataset.status === 'processing'", timeout=5)

        # An admin: a failed directive raises the banner; retrying it runs it and the banner goes
        page.evaluate(f"localStorage.setItem('omniman.console.token', {json.dumps(admin)})")
        page.evaluate("location.hash = '#/directives'")
        page.send("Page.reload")
        page.wait_for("document.getElementById('who').textContent.endsWith('admin')")
        assert page.evaluate("document.getElementById('banner').hidden")
        failed = global_id("Directive", str(failed_directive(database_url)))  # the id the API (and the page) uses
        page.wait_for("!document.getElementById('banner').hidden", timeout=10)
        assert page.evaluate("document.getElementById('banner').dataset.failed") == "1"
        page.wait_for(f"document.querySelector('tr[data-directive=\"{failed}\"] button[data-action=\"retry\"]')"
                      " !== null", timeout=10)
        page.click(f'tr[data-directive="{failed}"] button[data-action="retry"]')
        wait_until(lambda: directive_status(server, admin, failed) == "DONE", timeout=10, what="the retried run")
        page.wait_for(f"document.querySelector('tr[data-directive=\"{failed}\"]')?.dataset.status === 'DONE'",
                      timeout=10)
        page.wait_for("document.getElementById('banner').hidden", timeout=10)

        # A config edit with an unknown key: the server's error at its path, nothing saved
        before = server.gql(admin, CHANNEL)["channel"]
        page.evaluate("location.hash = '#/channels/pos'")
        page.wait_for("document.getElementById('channel-config') !== null")
        page.evaluate("""(() => { const box = document.getElementById('channel-config');
            box.value = JSON.stringify({...JSON.parse(box.value), unknown_key: 1}, null, 2);
            document.getElementById('channel-form').requestSubmit(); })()""")
        page.wait_for("document.querySelector('#channel-errors li[data-code=\"invalid_config\"]') !== null")
        assert page.evaluate("document.querySelector('#channel-errors li').dataset.path") == "config.unknown_key"
        assert server.gql(admin, CHANNEL)["channel"] == before
        assert page.errors == [], page.errors


def test_the_orders_list_catches_up_after_a_reconnect(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    admin = admin_token(database_url, name="console-admin")
    staff = token(database_url, "staff")
    with chromium(tmp_path / "profile") as page:
        with omniman_serve(database_url, tmp_path) as server:
            page.navigate(f"{server.base_url}/console")
            sign_in(page, staff)
            page.wait_for("document.getElementById('connection').dataset.state === 'live'")
            wait_until(lambda: subscribers(server, admin) >= 1, timeout=10, what="the console's subscription")
            first = commit_over_api(server, admin, "CONSOLE-A", "1")
            page.wait_for(ROW.format(ref=first) + " !== null", timeout=5)
            port = server.port
        # The server is gone: the page notices, and an order is committed meanwhile
        page.wait_for("document.getElementById('connection').dataset.state === 'offline'", timeout=10)
        missed = commit_directly(database_url, "CONSOLE-B")
        with omniman_serve(database_url, tmp_path, port=port):
            page.wait_for(ROW.format(ref=missed) + " !== null", timeout=20)
            page.wait_for("document.getElementById('connection').dataset.state === 'live'", timeout=5)
            assert page.evaluate(ROW.format(ref=first) + " !== null")
        assert page.errors == [], page.errors

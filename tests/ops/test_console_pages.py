"""The console's other pages in a real Chromium against a real `omniman serve` (admin): a web-shop session's page
runs its checks again and is abandoned after a confirmation; a channel's history shows a change made over the API;
a token is created (its secret shown once) and an idempotency key is looked up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ops.cdp import Page, chromium
from tests.ops.server import admin_token, omniman_serve, run_omniman
from tests.ops.test_console_browser import sign_in
from tests.ops.test_kds_browser import commit_over_api

pytestmark = pytest.mark.slow

OPEN = """mutation($input: OpenSessionInput!) { openSession(input: $input) { errors { code } } }"""
MODIFY = """mutation($input: ModifySessionInput!) { modifySession(input: $input) { errors { code } } }"""
SESSION = """query { session(channelCode: "ecommerce", sessionKey: "WEB-1") { state rev } }"""
STOCK_CHECKS = """query { directives(topic: "stock.hold", first: 50) { edges { node { payload } } } }"""
UPSERT = """mutation { upsertChannel(input: {code: "ifood", name: "iFood delivery"}) { errors { code } } }"""
TOKENS = "query { tokens { name role channels } }"


def show(page: Page, hash_: str, ready: str) -> None:
    page.evaluate(f"location.hash = {json.dumps(hash_)}")
    page.wait_for(ready + " !== null")


def test_sessions_channels_and_admin_pages(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    admin = admin_token(database_url, name="console-admin")
    with omniman_serve(database_url, tmp_path) as server, chromium(tmp_path / "profile") as page:
        session = {"channelCode": "ecommerce", "sessionKey": "WEB-1"}
        server.gql(admin, OPEN, {"input": session})
        server.gql(admin, MODIFY, {"input": {**session, "ops": [{"addLine": {"sku": "COFFEE", "qty": "1"}}]}})
        page.navigate(f"{server.base_url}/console")
        sign_in(page, admin)
        page.wait_for("document.body.dataset.state === 'ready'")

        # Sessions: listed; its page runs the checks again (a second stock.hold at rev 1), then abandons it
        show(page, "#/sessions", "document.querySelector('tr[data-session=\"WEB-1\"]')")
        show(page, "#/sessions/ecommerce/WEB-1", "document.getElementById('run-checks')")
        page.click("#run-checks")
        page.wait_for("document.getElementById('toast').textContent.startsWith('Checks queued')")
        holds = [e["node"]["payload"] for e in server.gql(admin, STOCK_CHECKS)["directives"]["edges"]
                 if e["node"]["payload"].get("session_key") == "WEB-1"]
        assert [h["rev"] for h in holds] == [1, 1]
        page.click("#abandon")
        page.wait_for("document.getElementById('confirm').open")
        page.click("#confirm-cancel")  # cancelled: nothing happens
        assert server.gql(admin, SESSION)["session"]["state"] == "OPEN"
        page.click("#abandon")
        page.wait_for("document.getElementById('confirm').open")
        page.click("#confirm-ok")
        page.wait_for("document.querySelector('h1[data-state=\"ABANDONED\"]') !== null")
        assert server.gql(admin, SESSION)["session"]["state"] == "ABANDONED"

        # Channels: a change over the API shows in the history with who made it
        server.gql(admin, UPSERT)
        show(page, "#/channels/ifood", "document.getElementById('channel-history')")
        history = page.evaluate("document.getElementById('channel-history').innerText")
        assert "console-admin changed name" in history, history

        # Admin: a token created with its role and channel, its secret shown once; a key looked up
        show(page, "#/admin", "document.querySelector('input[name=\"name\"]')")
        page.evaluate("""(() => { document.querySelector('input[name="name"]').value = 'till-9';
            document.querySelector('select[name="role"]').value = 'CLIENT';
            document.querySelector('input[name="channels"]').value = 'pos';
            document.querySelector('input[name="name"]').form.requestSubmit(); })()""")
        secret = page.wait_for("document.getElementById('new-secret')?.textContent")
        assert str(secret).startswith("omn_")
        assert {"name": "till-9", "role": "CLIENT", "channels": ["pos"]} in server.gql(admin, TOKENS)["tokens"]
        ref = commit_over_api(server, admin, "CONSOLE-K", "4")
        page.evaluate("""(() => { document.querySelector('select[name="channel"]').value = 'pos';
            document.querySelector('input[name="key"]').value = 'CONSOLE-K-1';
            document.querySelector('input[name="key"]').form.requestSubmit(); })()""")
        page.wait_for(f"document.getElementById('key-result').innerText.includes({json.dumps(ref)})")
        assert page.errors == [], page.errors

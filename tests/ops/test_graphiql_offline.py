"""GraphiQL in a real headless Chromium against a real `omniman serve` with the outside network closed: the page comes
up from the hub's own files, opens on the quick start, and a query run from it with the token box returns data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.ops.cdp import Page, chromium
from tests.ops.server import admin_token, omniman_serve, run_omniman

pytestmark = pytest.mark.slow

# Every host name but the hub's address fails to resolve: an air-gapped shop (a CDN could not be reached).
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)
# `omniman serve` gets a clean environment: hand it this run's accelerator switch, so both ways are covered
ACCELERATE = {"OMNIMAN_ACCELERATE": os.environ["OMNIMAN_ACCELERATE"]} if "OMNIMAN_ACCELERATE" in os.environ else {}
QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror')"
RESPONSE = "document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue()"
CHANNELS = "{ channels { code name } }"


def run_in_graphiql(page: Page, query: str) -> dict[str, object]:
    """Type `query` into GraphiQL's editor, press its run button, and read the JSON it shows."""
    page.evaluate(f"{QUERY_EDITOR}.CodeMirror.setValue({json.dumps(query)})")
    # GraphiQL takes the edit in on its next render; until then the button still holds the quick start's several
    # operations and opens a menu asking which one to run
    page.wait_for("document.querySelector('.graphiql-execute-button')?.getAttribute('aria-haspopup') === null")
    page.click(".graphiql-execute-button")
    shown = page.wait_for(f"(() => {{ const v = {RESPONSE}; return v && v.trim().startsWith('{{') ? v : null; }})()",
                          timeout=10)
    return json.loads(shown)  # type: ignore[no-any-return]


def test_graphiql_runs_offline_with_the_token_box(database_url: str, tmp_path: Path) -> None:
    assert run_omniman(["demo"], database_url, tmp_path).returncode == 0
    token = admin_token(database_url)
    with (omniman_serve(database_url, tmp_path, **ACCELERATE) as server,
          chromium(tmp_path / "profile", flags=OFFLINE) as page):
        # The outside is really closed for this browser (what the CDN-loading page used to need)
        unreachable = page.evaluate("fetch('https://unpkg.com/react@18.2.0/umd/react.production.min.js')"
                                    ".then(() => 'reached', (e) => 'refused: ' + e)")
        assert unreachable.startswith("refused"), unreachable

        # Given GraphiQL, served by the hub: the editor comes up (not "Loading...") with the quick start
        page.navigate(f"{server.base_url}/graphql")
        page.wait_for(f"{QUERY_EDITOR} !== null", timeout=20)
        opening = page.evaluate(f"{QUERY_EDITOR}.CodeMirror.getValue()")
        assert "Omniman GQL: the quick start" in opening and "openSession" in opening
        assert page.evaluate("typeof GraphiQLPluginExplorer.explorerPlugin") == "function"

        # Without a token, the hub refuses the query (the page sends none yet)
        refused = run_in_graphiql(page, CHANNELS)
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused  # type: ignore[index]

        # When the token is pasted into the token box and used
        page.evaluate(f"document.getElementById('omniman-token-input').value = {json.dumps(token)}")
        page.evaluate("document.getElementById('omniman-token').requestSubmit()")  # as pressing "Use" does
        page.wait_for("document.getElementById('omniman-token-state')?.textContent === '✓ set'", timeout=20)
        page.wait_for(f"{QUERY_EDITOR} !== null", timeout=20)

        # Then a query run from GraphiQL returns the demo's channels
        answered = run_in_graphiql(page, CHANNELS)
        assert "errors" not in answered, answered
        assert "pos" in {channel["code"] for channel in answered["data"]["channels"]}, answered  # type: ignore[index]
        loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(server.base_url) for url in loaded), loaded
        # (the one console complaint: a GraphiQL dependency measuring the scrollbar of an overflow:hidden body)
        assert [e for e in page.errors if not e.startswith("react-remove-scroll-bar:")] == [], page.errors

"""The GraphiQL page: Strawberry's, opening on our quick start, with an "API token" box that remembers the token in
the browser (localStorage) and sends it on every request and in the websocket `connection_init`."""

import json
import re

from .quickstart import QUICK_START

TOKEN_KEY = "omniman.apiToken"
_EXAMPLE = re.compile(r"const EXAMPLE_QUERY = `.*?`;", re.DOTALL)
_FETCHER = re.compile(r"const fetcher = GraphiQL\.createFetcher\(\{.*?\}\);", re.DOTALL)
_BODY = '<div id="graphiql"'

FETCHER = """const apiToken = localStorage.getItem(TOKEN_KEY) || "";
      if (apiToken) {
        defaultHeaders["Authorization"] = "Bearer " + apiToken;
      }
      const fetcher = GraphiQL.createFetcher({
        url: fetchURL,
        headers: defaultHeaders,
        subscriptionUrl,
        wsConnectionParams: apiToken ? { Authorization: "Bearer " + apiToken } : {},
      });"""

TOKEN_BOX = """<form id="omniman-token" style="position: fixed; top: 8px; right: 16px; z-index: 100; display: flex;
    gap: 6px; align-items: center; font: 13px sans-serif; background: #fff; padding: 4px 8px; border-radius: 6px;
    box-shadow: 0 1px 4px rgba(0,0,0,.25);">
    <label for="omniman-token-input">API token</label>
    <input id="omniman-token-input" type="password" autocomplete="off" size="28"
           placeholder="paste the token omniman printed">
    <button type="submit">Use</button>
    <button type="button" id="omniman-token-forget">Forget</button>
    <span id="omniman-token-state"></span>
  </form>
  <script>
    const TOKEN_KEY = __TOKEN_KEY__;
    (function () {
      const form = document.getElementById("omniman-token");
      const state = document.getElementById("omniman-token-state");
      state.textContent = localStorage.getItem(TOKEN_KEY) ? "✓ set" : "none yet";
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        const value = document.getElementById("omniman-token-input").value.trim().replace(/^Bearer\\s+/i, "");
        if (value) {
          localStorage.setItem(TOKEN_KEY, value);
        }
        window.location.reload();
      });
      document.getElementById("omniman-token-forget").addEventListener("click", function () {
        localStorage.removeItem(TOKEN_KEY);
        window.location.reload();
      });
    })();
  </script>
  """.replace("__TOKEN_KEY__", json.dumps(TOKEN_KEY))


def graphiql_page(html: str, example: str = QUICK_START) -> str:
    """Strawberry's GraphiQL page with our example, the token box, and a fetcher that sends the token."""
    for pattern, name in ((_EXAMPLE, "example"), (_FETCHER, "fetcher")):
        if not pattern.search(html):  # a Strawberry upgrade changed the page: fail loudly in the tests
            raise RuntimeError(f"GraphiQL page: cannot find the {name} to replace")
    html = _EXAMPLE.sub(lambda _: f"const EXAMPLE_QUERY = {json.dumps(example)};", html, count=1)
    html = _FETCHER.sub(lambda _: FETCHER, html, count=1)
    return html.replace(_BODY, TOKEN_BOX + _BODY, 1)

"""The GraphiQL page: Strawberry's, loading its libraries from the hub's own files (no CDN), opening on our quick start,
with an "API token" box that remembers the token in the browser (localStorage) and sends it on every request and in
the websocket `connection_init`; and the Content-Security-Policy that lets exactly that page run."""

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from .quickstart import QUICK_START

TOKEN_KEY = "omniman.apiToken"
_EXAMPLE = re.compile(r"const EXAMPLE_QUERY = `.*?`;", re.DOTALL)
_FETCHER = re.compile(r"const fetcher = GraphiQL\.createFetcher\(\{.*?\}\);", re.DOTALL)
_BODY = '<div id="graphiql"'
ASSETS = "/static/graphiql/"
# Each CDN address Strawberry's page names → the vendored copy (schema/static/graphiql/README.md says where each came
# from). The page keeps Strawberry's `integrity` hashes, so the browser checks our copies are the published files.
VENDORED = {
    "https://unpkg.com/react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom.production.min.js",
    "https://unpkg.com/js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "plugin-explorer.umd.js",
}
_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)

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
    """Strawberry's GraphiQL page with our files, our example, the token box, and a fetcher that sends the token."""
    for pattern, name in ((_EXAMPLE, "example"), (_FETCHER, "fetcher")):
        if not pattern.search(html):  # a Strawberry upgrade changed the page: fail loudly in the tests
            raise RuntimeError(f"GraphiQL page: cannot find the {name} to replace")
    for url, file in VENDORED.items():
        html = html.replace(f'"{url}"', f'"{ASSETS}{file}"')
    external = _EXTERNAL.search(html)
    if external:  # a Strawberry upgrade names a file we have not vendored: the page would need a CDN
        raise RuntimeError(f"GraphiQL page: it loads {external.group(0)!r}…, not vendored in schema/static/graphiql")
    html = _EXAMPLE.sub(lambda _: f"const EXAMPLE_QUERY = {json.dumps(example)};", html, count=1)
    html = _FETCHER.sub(lambda _: FETCHER, html, count=1)
    return html.replace(_BODY, TOKEN_BOX + _BODY, 1)


class _PageSources(HTMLParser):
    """What a page loads: the origins of its scripts and stylesheets, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.script_origins: set[str] = set()
        self.style_origins: set[str] = set()
        self.inline_scripts: list[str] = []
        self._inline: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.script_origins.add(_origin(found["src"] or ""))
            else:
                self._inline = []
        elif tag == "link" and (found.get("rel") or "").lower() == "stylesheet" and found.get("href"):
            self.style_origins.add(_origin(found["href"] or ""))

    def handle_data(self, data: str) -> None:
        if self._inline is not None:
            self._inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._inline is not None:
            self.inline_scripts.append("".join(self._inline))
            self._inline = None


def _origin(url: str) -> str:
    """`https://unpkg.com/react@18…` → `https://unpkg.com`; a same-origin path → `'self'`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "'self'"


def content_security_policy(page: str) -> str:
    """The CSP of `page`: scripts from the origins it names and its own inline scripts (by hash, so no other inline
    script runs), requests only to this origin (the API and its websocket), never inside a frame."""
    sources = _PageSources()
    sources.feed(page)
    sources.close()
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
              for body in sources.inline_scripts]
    scripts = " ".join(sorted(sources.script_origins | {"'self'"}) + hashes)
    styles = " ".join(sorted(sources.style_origins | {"'self'"}))
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        # 'unsafe-inline' for styles only: the page's <style>, the token box's style attribute and the style
        # attributes GraphiQL's editors write; a style cannot run code.
        f"style-src {styles} 'unsafe-inline'",
        f"font-src {styles} data:",  # GraphiQL's stylesheet carries its fonts as data: URLs
        "img-src 'self' data:",  # the favicon is a data: URL
        "connect-src 'self'",  # the API and its websocket (CSP level 3 `'self'` covers ws:/wss: of this host)
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",  # GraphiQL keeps the admin token: no other site may frame it (clickjacking)
    ])

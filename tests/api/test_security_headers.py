"""Security headers on every HTTP response the hub sends (pages, JSON, static files, errors), and page policies that
allow exactly what each page loads."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from omniman_gql.infra import app as core_app
from omniman_gql.infra.headers import STRICT_POLICY
from omniman_gql.settings import Settings
from schema.asgi import create_app
from schema.console import CONTENT_SECURITY_POLICY as CONSOLE_POLICY
from schema.kds import CONTENT_SECURITY_POLICY as KDS_POLICY

FIXED = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}
HTML = {"Accept": "text/html"}


def assert_secured(response: object, policy: str | None = None) -> str:
    headers = response.headers  # type: ignore[attr-defined]
    assert {name: headers.get(name) for name in FIXED} == FIXED, dict(headers)
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp.split("; ")
    if policy is not None:
        assert csp == policy
    return str(csp)


def directives(csp: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in csp.split("; "))}


@pytest.mark.parametrize(("method", "path", "status", "policy"), [
    ("POST", "/graphql", 200, None),
    ("GET", "/health", 200, STRICT_POLICY),
    ("GET", "/metrics", 200, STRICT_POLICY),
    ("GET", "/kds", 200, KDS_POLICY),
    ("GET", "/kds/assets/index.html", 200, KDS_POLICY),
    ("GET", "/kds/assets/kds.js", 200, KDS_POLICY),
    ("GET", "/kds/assets/kds.css", 200, KDS_POLICY),
    ("GET", "/kds/assets/nothing.js", 404, KDS_POLICY),
    ("GET", "/console", 200, CONSOLE_POLICY),
    ("GET", "/console/assets/app.js", 200, CONSOLE_POLICY),
    ("GET", "/console/assets/vendor/graphql-ws.min.js", 200, CONSOLE_POLICY),
    ("GET", "/console/assets/nothing.js", 404, CONSOLE_POLICY),
    ("GET", "/static/omniman-live.js", 200, STRICT_POLICY),
    ("GET", "/static/graphiql/graphiql.min.js", 200, STRICT_POLICY),
    ("GET", "/nowhere", 404, STRICT_POLICY),
    ("DELETE", "/health", 405, STRICT_POLICY),
    ("PUT", "/graphql", 405, None),
])
def test_every_route_sends_the_headers(client: TestClient, method: str, path: str, status: int,
                                       policy: str | None) -> None:
    body = {"json": {"query": "{ __typename }"}} if method == "POST" else {}
    response = client.request(method, path, **body)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert_secured(response, policy)


def test_the_kitchen_display_keeps_its_own_files(client: TestClient) -> None:
    page = client.get("/kds/assets/index.html")
    allowed = directives(assert_secured(page))
    # everything the page loads is its own: scripts and styles from this origin, the API too
    assert allowed["script-src"] == ["'self'"] and allowed["style-src"] == ["'self'"]
    assert allowed["connect-src"] == ["'self'"]
    for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert src.startswith("/kds/assets/") or src == "/static/omniman-live.js", src
        assert client.get(src).status_code == 200
    assert client.get("/kds").headers["cache-control"] == "no-cache"


def test_the_console_loads_only_its_own_modules(client: TestClient) -> None:
    page = client.get("/console")
    allowed = directives(assert_secured(page, CONSOLE_POLICY))
    assert allowed["script-src"] == ["'self'"] and allowed["style-src"] == ["'self'"]
    assert page.headers["cache-control"] == "no-cache"
    sources = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert sources and all(src.startswith("/console/assets/") for src in sources), sources
    # every module the page imports, followed from app.js, is served from the console's own assets
    seen, todo = set(), ["app.js"]
    while todo:
        name = todo.pop()
        module = client.get(f"/console/assets/{name}")
        assert module.status_code == 200, name
        assert "<script" not in module.text and "http://" not in module.text and "https://" not in module.text
        seen.add(name)
        todo.extend(set(re.findall(r'from "\./([a-z]+\.js)"', module.text)) - seen)
    assert {"app.js", "core.js", "queries.js", "orders.js", "order.js", "sessions.js", "directives.js", "channels.js",
            "admin.js"} == seen


def test_the_hubs_static_files_say_how_long_to_keep_them(client: TestClient) -> None:
    """GraphiQL's vendored libraries change only with a release (a day); the live helper is ours (revalidated)."""
    vendored = client.get("/static/graphiql/graphiql.min.js")
    assert vendored.status_code == 200 and vendored.headers["cache-control"] == "public, max-age=86400"
    helper = client.get("/static/omniman-live.js")
    assert helper.status_code == 200 and helper.headers["cache-control"] == "no-cache"
    assert "subscribeResuming" in helper.text
    assert client.get("/static/../schema/asgi.py").status_code == 404  # nothing outside the folder


class Sources(HTMLParser):
    """Every script source, stylesheet and inline script of a page (an independent reading of what it loads)."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.inline: list[str] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.scripts.append(str(found["src"]))
            else:
                self._open = True
                self.inline.append("")
        elif tag == "link" and found.get("rel") == "stylesheet":
            self.styles.append(str(found["href"]))

    def handle_data(self, data: str) -> None:
        if self._open:
            self.inline[-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = False


def test_graphiql_may_load_exactly_what_its_page_references(client: TestClient) -> None:
    """GraphiQL loads only the hub's own files (vendored, no CDN): the policy allows this origin and the page's inline
    scripts by hash, nothing more, and every file the page names is served."""
    page = client.get("/graphql", headers=HTML)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    allowed = directives(assert_secured(page))
    sources = Sources()
    sources.feed(page.text)
    assert sources.scripts and sources.styles and len(sources.inline) == 2  # the token box and GraphiQL's own
    for src in sources.scripts + sources.styles:
        assert src.startswith("/static/graphiql/"), src  # no other origin, not even a protocol-relative one
        served = client.get(src)
        assert served.status_code == 200 and len(served.content) > 500, src
    assert "unpkg" not in page.text and "https://" not in re.sub(r"<!--.*?-->|xmlns=\S+", "", page.text)
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
              for body in sources.inline}
    assert set(allowed["script-src"]) == {"'self'", *hashes}  # no CDN, no 'unsafe-inline', no 'unsafe-eval'
    assert set(allowed["style-src"]) == {"'self'", "'unsafe-inline'"}
    assert allowed["font-src"] == ["'self'", "data:"]
    assert allowed["connect-src"] == ["'self'"] and allowed["frame-ancestors"] == ["'none'"]
    assert allowed["default-src"] == ["'self'"] and allowed["object-src"] == ["'none'"]
    assert "localStorage.setItem(TOKEN_KEY" in page.text  # the page that keeps the admin token is the one covered


def test_json_answers_of_graphql_keep_the_headers_without_graphiql(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"graphiql": False}), run_directives=False)) as client:
        response = client.get("/graphql", headers=HTML)
        assert response.status_code == 404 or "text/html" not in response.headers["content-type"]
        assert_secured(response, STRICT_POLICY)
        assert_secured(client.post("/graphql", json={"query": "{ __typename }"}), STRICT_POLICY)


def test_an_oversized_body_and_an_unexpected_failure_are_secured_too(settings: Settings) -> None:
    async def boom(_request: object) -> JSONResponse:
        raise RuntimeError("a bug")

    app = core_app.create_app(settings.model_copy(update={"max_body_bytes": 1024}), routes=[Route("/boom", boom)])
    with TestClient(app, raise_server_exceptions=False) as client:
        too_large = client.post("/health", content=b"x" * 2048)
        failed = client.get("/boom")
    assert too_large.status_code == 413
    assert_secured(too_large, STRICT_POLICY)
    assert failed.status_code == 500
    assert failed.json() == {"errors": [{"message": "Internal server error",
                                         "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
    assert_secured(failed, STRICT_POLICY)


def test_a_response_that_sets_its_own_policy_keeps_it(settings: Settings) -> None:
    async def framed(_request: object) -> JSONResponse:
        return JSONResponse({}, headers={"Content-Security-Policy": "frame-ancestors 'none'; default-src 'self'"})

    with TestClient(core_app.create_app(settings, routes=[Route("/own", framed)])) as client:
        response = client.get("/own")
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'; default-src 'self'"
    assert response.headers["x-frame-options"] == "DENY"

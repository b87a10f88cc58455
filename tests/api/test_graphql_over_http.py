"""GraphQL over HTTP, row by row of the table in docs/http.md, with the accelerators and without: status, media type
and `extensions.code` of every answer; gzip over 1 KiB; Cache-Control."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.graphql import authorize

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
QUERY = "{ channels { code } }"
PQ = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}


@pytest.fixture(params=[True, False], ids=["accelerated", "stock"])
def app(settings: Settings, request: pytest.FixtureRequest) -> Starlette:
    return create_app(settings.model_copy(update={"accelerate": request.param, "max_body_bytes": 64 * 1024}),
                      run_directives=False)


# (name, method, request kwargs, accept) -> (status, media type, code of the first error or None)
ROWS: list[tuple[str, str, dict[str, Any], str, int, str, str | None]] = [
    ("query", "POST", {"json": {"query": QUERY}}, JSON, 200, JSON, None),
    ("query, graphql-response", "POST", {"json": {"query": QUERY}}, GRAPHQL_RESPONSE, 200, GRAPHQL_RESPONSE, None),
    ("query over GET", "GET", {"params": {"query": QUERY}}, JSON, 200, JSON, None),
    ("parse error", "POST", {"json": {"query": "{ channels {"}}, JSON, 200, JSON, "GRAPHQL_PARSE_FAILED"),
    ("parse error, graphql-response", "POST", {"json": {"query": "{ channels {"}}, GRAPHQL_RESPONSE, 400,
     GRAPHQL_RESPONSE, "GRAPHQL_PARSE_FAILED"),
    ("too many tokens", "POST", {"json": {"query": "{" + " channels { code }" * 2000 + "}"}}, GRAPHQL_RESPONSE,
     400, GRAPHQL_RESPONSE, "GRAPHQL_PARSE_FAILED"),  # over max_query_tokens (5,000)
    ("validation error", "POST", {"json": {"query": "{ nope }"}}, JSON, 200, JSON, "GRAPHQL_VALIDATION_FAILED"),
    ("validation error, graphql-response", "POST", {"json": {"query": "{ nope }"}}, GRAPHQL_RESPONSE, 400,
     GRAPHQL_RESPONSE, "GRAPHQL_VALIDATION_FAILED"),
    ("unknown variable type", "POST", {"json": {"query": "query($a: Nope) { channels { code } }"}},
     GRAPHQL_RESPONSE, 400, GRAPHQL_RESPONSE, "GRAPHQL_VALIDATION_FAILED"),
    ("field error, graphql-response", "POST", {"json": {"query": '{ orders(after: "x") { edges { cursor } } }'}},
     GRAPHQL_RESPONSE, 200, GRAPHQL_RESPONSE, "BAD_USER_INPUT"),
    ("persisted query not found", "POST", {"json": {"extensions": PQ}}, JSON, 200, JSON,
     "PERSISTED_QUERY_NOT_FOUND"),
    ("persisted query not found, graphql-response", "GET", {"params": {"extensions": json.dumps(PQ)}},
     GRAPHQL_RESPONSE, 400, GRAPHQL_RESPONSE, "PERSISTED_QUERY_NOT_FOUND"),
    ("no query", "POST", {"json": {"variables": {}}}, JSON, 400, JSON, "BAD_REQUEST"),
    ("no query over GET", "GET", {}, JSON, 400, JSON, "BAD_REQUEST"),
    ("bad JSON", "POST", {"content": b"{nope", "headers": {"content-type": JSON}}, JSON, 400, JSON, "BAD_REQUEST"),
    ("bad JSON, graphql-response", "POST", {"content": b"{nope", "headers": {"content-type": JSON}},
     GRAPHQL_RESPONSE, 400, GRAPHQL_RESPONSE, "BAD_REQUEST"),
    ("a batch", "POST", {"json": [{"query": QUERY}]}, JSON, 400, JSON, "BAD_REQUEST"),
    ("not an object", "POST", {"json": "query"}, JSON, 400, JSON, "BAD_REQUEST"),
    ("variables not an object", "POST", {"json": {"query": QUERY, "variables": [1]}}, JSON, 400, JSON,
     "BAD_REQUEST"),
    ("NUL in variables", "POST", {"json": {"query": "query($c: String!) { channel(code: $c) { code } }",
                                           "variables": {"c": "a\x00"}}}, JSON, 400, JSON, "BAD_USER_INPUT"),
    ("mutation over GET", "GET", {"params": {"query": "mutation { abandonSession(input: {channelCode: \"a\", "
                                                      "sessionKey: \"b\"}) { errors { code } } }"}},
     JSON, 400, JSON, "BAD_REQUEST"),
    ("subscription over HTTP", "POST", {"json": {"query": "subscription { orderEvents { cursor } }"}}, JSON, 400,
     JSON, "BAD_REQUEST"),
    ("unsupported media type", "POST", {"content": b"{ channels { code } }",
                                        "headers": {"content-type": "application/graphql"}}, JSON, 415, JSON,
     "UNSUPPORTED_MEDIA_TYPE"),
    ("PUT", "PUT", {"json": {"query": QUERY}}, JSON, 405, JSON, "METHOD_NOT_ALLOWED"),
    ("DELETE", "DELETE", {}, GRAPHQL_RESPONSE, 405, GRAPHQL_RESPONSE, "METHOD_NOT_ALLOWED"),
    ("OPTIONS without CORS", "OPTIONS", {}, JSON, 405, JSON, "METHOD_NOT_ALLOWED"),
    ("body too large", "POST", {"json": {"query": QUERY, "variables": {"x": "y" * 70_000}}}, JSON, 413, JSON,
     "PAYLOAD_TOO_LARGE"),
    ("body too large, graphql-response", "POST", {"json": {"query": QUERY, "variables": {"x": "y" * 70_000}}},
     GRAPHQL_RESPONSE, 413, GRAPHQL_RESPONSE, "PAYLOAD_TOO_LARGE"),
]


@pytest.mark.parametrize(("name", "method", "kwargs", "accept", "status", "media", "code"), ROWS,
                         ids=[row[0] for row in ROWS])
def test_status_media_type_and_code(client: TestClient, name: str, method: str, kwargs: dict[str, Any],
                                    accept: str, status: int, media: str, code: str | None) -> None:
    kwargs = dict(kwargs)  # the rows are shared by both app modes
    headers = {"accept": accept, **kwargs.pop("headers", {})}
    response = client.request(method, "/graphql", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == media
    body = response.json()
    assert set(body) <= {"data", "errors"}
    if code is None:
        assert "errors" not in body and body["data"]
    else:
        assert body["errors"][0]["extensions"]["code"] == code and body["errors"][0]["message"]
    if status == 405:
        assert response.headers["allow"] == "GET, POST"
    assert response.headers["cache-control"] == "no-store"


def test_without_a_token_it_is_unauthenticated_before_the_document_is_read(client: TestClient) -> None:
    del client.headers["Authorization"]
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = client.post("/graphql", json={"query": "{ channels {"}, headers={"accept": accept})
        assert response.status_code == 200 and response.headers["content-type"].startswith(accept)
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/nope", 404, "NOT_FOUND"), ("POST", "/health", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/kds/assets/nope.js", 404, "NOT_FOUND")])
def test_other_refusals_are_json_too(client: TestClient, method: str, path: str, status: int, code: str) -> None:
    response = client.request(method, path)
    assert response.status_code == status and response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == code


def test_graphiql_disabled_is_a_json_404(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"graphiql": False}), run_directives=False)) as client:
        response = client.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == 404
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_large_responses_are_gzipped_small_ones_not(client: TestClient) -> None:
    authorize(client)
    big = "{ " + " ".join(f"a{i}: __typename" for i in range(25)) + " __schema { types { name } } }"
    raw = client.post("/graphql", json={"query": big}, headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip" and raw.json()["data"]["__schema"]["types"]
    assert int(raw.headers["content-length"]) < len(json.dumps(raw.json()))
    small = client.post("/graphql", json={"query": QUERY}, headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers
    plain = client.post("/graphql", json={"query": big}, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    stream = client.stream("POST", "/graphql", json={"query": big}, headers={"accept-encoding": "gzip"})
    with stream as response:
        compressed = b"".join(response.iter_raw())
    assert json.loads(gzip.decompress(compressed))["data"]["__schema"]["types"]


def test_static_assets_say_how_long_to_keep_them(client: TestClient) -> None:
    assert client.get("/kds").headers["cache-control"] == "no-cache"
    assert client.get("/kds/assets/kds.js").headers["cache-control"] == "no-cache"
    vendored = client.get("/kds/assets/vendor/graphql-ws.min.js")
    assert vendored.status_code == 200 and vendored.headers["cache-control"] == "public, max-age=86400"
    assert client.get("/graphql", headers={"accept": "text/html"}).status_code == 200  # GraphiQL

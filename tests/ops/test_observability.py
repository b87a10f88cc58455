"""/metrics in Prometheus text format and one JSON log line per request (and per directive run) with `log_json`."""

from __future__ import annotations

import json
import re

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from omniman_gql.infra import observability
from omniman_gql.services import auth
from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.api.operations import make_channel
from tests.fixtures.app import Api
from tests.graphql import bearer, create_token

CHANNELS = "query Chans { channels { code } }"
BAD_CHANNEL = """
mutation Bad($input: ChannelInput!) { upsertChannel(input: $input) { channel { code } errors { code } } }
"""
SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse Prometheus text: {(metric, labels): value}."""
    found = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
            found[(match["name"], labels)] = float(match["value"])
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_operations_by_outcome_and_errors_by_code(api: Api) -> None:
    before = api.client.get("/metrics").text

    api.data(CHANNELS)
    api(BAD_CHANNEL, {"input": {"code": "x", "currency": "reais"}})
    api.client.post("/graphql", json={"query": "{ nope }"})  # does not validate
    api.client.post("/graphql", json={"query": "{ nope"})  # does not parse
    response = api.client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    requests = "omniman_graphql_requests_total"
    assert value(after, requests, operation="channels", type="query", outcome="ok") == \
        value(before, requests, operation="channels", type="query", outcome="ok") + 1
    assert value(after, requests, operation="upsertChannel", type="mutation", outcome="rejected") == \
        value(before, requests, operation="upsertChannel", type="mutation", outcome="rejected") + 1
    assert value(after, "omniman_graphql_errors_total", operation="upsertChannel", code="invalid_input") == \
        value(before, "omniman_graphql_errors_total", operation="upsertChannel", code="invalid_input") + 1
    assert value(after, "omniman_graphql_errors_total", operation="invalid", code="GRAPHQL_VALIDATION_FAILED") == \
        value(before, "omniman_graphql_errors_total", operation="invalid", code="GRAPHQL_VALIDATION_FAILED") + 1
    assert value(after, "omniman_graphql_errors_total", operation="invalid", code="GRAPHQL_PARSE_FAILED") == \
        value(before, "omniman_graphql_errors_total", operation="invalid", code="GRAPHQL_PARSE_FAILED") + 1
    assert value(after, "omniman_http_requests_total", route="/graphql", status="200") >= \
        value(before, "omniman_http_requests_total", route="/graphql", status="200") + 2
    assert value(after, "omniman_graphql_duration_seconds_count", type="query") >= 2
    # the cluster-wide backlog, read from the database at scrape time
    assert ("omniman_directives", frozenset({("status", "failed")})) in samples(after)
    assert "# TYPE omniman_subscriptions_open gauge" in after
    assert "# TYPE omniman_directive_duration_seconds histogram" in after


def test_every_response_carries_a_request_id(api: Api) -> None:
    given = api.client.post("/graphql", json={"query": CHANNELS}, headers={"X-Request-ID": "abc-123"})
    made = api.client.get("/health")
    unsafe = api.client.get("/health", headers={"X-Request-ID": "a b;" * 40})

    assert given.headers["x-request-id"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["x-request-id"])  # never echoes what it cannot vouch for


@pytest.fixture
def json_app(settings: Settings) -> Starlette:
    return create_app(settings.model_copy(update={"log_json": True}), run_directives=False)


def sign_in(client: TestClient, name: str) -> None:
    """Every later request of `client` carries a new admin token named `name` (its actor name)."""
    hub = client.app_state["hub"]

    async def create() -> str:
        _row, secret = await auth.create_token(hub, name=name, role="admin")
        return secret

    assert client.portal is not None
    client.headers["Authorization"] = f"Bearer {client.portal.call(create)}"


def test_log_json_writes_one_line_per_request(json_app: Starlette, capsys: pytest.CaptureFixture[str]) -> None:
    with TestClient(json_app) as client:
        sign_in(client, "kitchen-admin")
        capsys.readouterr()
        response = client.post("/graphql", json={"query": CHANNELS, "operationName": "Chans"},
                               headers={"X-Request-ID": "req-1"})
        client.post("/graphql", json={"query": BAD_CHANNEL, "variables": {"input": {"code": "x", "currency": "?"}}})
        out = capsys.readouterr().out

    assert response.status_code == 200
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "omniman.requests"]
    assert len(requests) == 2, out
    first, second = requests
    assert first["event"] == "request" and first["request_id"] == "req-1"
    assert (first["method"], first["path"], first["status"]) == ("POST", "/graphql", 200)
    assert (first["operation"], first["operation_name"], first["operation_type"]) == ("channels", "Chans", "query")
    assert first["actor"] == "kitchen-admin" and first["outcome"] == "ok"
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] > 0
    assert (second["operation"], second["outcome"], second["error_codes"]) == (
        "upsertChannel", "rejected", ["invalid_input"])
    assert second["request_id"] != first["request_id"]


def test_directive_runs_are_counted_and_logged(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url="sqlite:///unused.db", log_json=True)
    labels = {"topic": "demo.topic", "outcome": "retry"}
    before = observability.DIRECTIVE_RUNS.labels(**labels)._value.get()

    observability.directive_finished(settings, directive_id=7, topic="demo.topic", status="queued", attempts=2,
                                     duration_s=0.0123, retry_in_ms=2000)

    assert observability.DIRECTIVE_RUNS.labels(**labels)._value.get() == before + 1
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {k: line[k] for k in ("logger", "directive_id", "topic", "outcome", "attempts", "duration_ms",
                                 "retry_in_ms")} == {
        "logger": "omniman.directive_runs", "directive_id": 7, "topic": "demo.topic", "outcome": "retry",
        "attempts": 2, "duration_ms": 12.3, "retry_in_ms": 2000}


def test_metrics_ask_for_an_admin_token(api: Api) -> None:
    anonymous = {"Authorization": ""}
    for headers, status, code in (
            (anonymous, 401, "UNAUTHENTICATED"),
            ({"Authorization": "Bearer omn_not-a-token"}, 401, "UNAUTHENTICATED"),
            (bearer(create_token(api.client, "staff")), 403, "FORBIDDEN"),
            (bearer(create_token(api.client, "display", [make_channel(api)])), 403, "FORBIDDEN")):
        response = api.client.get("/metrics", headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["errors"][0]["extensions"] == {"code": code}
        assert "omniman_graphql_requests" not in response.text
    assert api.client.get("/metrics", headers=anonymous).headers["www-authenticate"] == "Bearer"
    admin = api.client.get("/metrics")  # the client's own admin token
    assert admin.status_code == 200 and "# TYPE omniman_graphql_requests_total counter" in admin.text


def test_metrics_can_be_public_for_a_private_network(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"metrics_public": True}), run_directives=False)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200 and "# TYPE omniman_graphql_requests_total counter" in response.text


def test_metrics_public_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(database_url="sqlite:///unused.db").metrics_public is False
    monkeypatch.setenv("OMNIMAN_METRICS_PUBLIC", "true")
    assert Settings(database_url="sqlite:///unused.db").metrics_public is True

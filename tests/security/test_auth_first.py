"""A request without a valid token is answered UNAUTHENTICATED before its document is parsed or validated, over HTTP
POST and GET and over websockets, with and without the accelerators; GraphiQL's page still needs no token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from omniman_gql.settings import Settings
from schema.asgi import create_app
from schema.context import BAD_TOKEN, NO_TOKEN
from tests.graphql import authorize

# Slow to validate (graphql-core compares every pair of the repeated fields): the document the issue measured.
COSTLY = "# a comment no cache has seen\nquery { " + "channels { code name } " * 400 + "}"
# Evidence that the document is never read: answered by a parse or validation error if it were.
UNPARSABLE = "query { channels { code "
INVALID = "query { noSuchField }"
DOCUMENTS = {"costly": COSTLY, "unparsable": UNPARSABLE, "invalid": INVALID, "typename": "mutation { __typename }",
             "introspection": "{ __schema { queryType { name } } }"}
CREDENTIALS = {"none": ({}, NO_TOKEN), "unknown": ({"Authorization": "Bearer omn_" + "x" * 43}, BAD_TOKEN),
               "malformed": ({"Authorization": "Basic YWRtaW46YWRtaW4="}, BAD_TOKEN)}


@pytest.fixture(params=[True, False], ids=["accelerated", "stock"])
def anonymous(request: pytest.FixtureRequest, settings: Settings) -> Iterator[TestClient]:
    """A client of the app (accelerators on, then off) that sends no token unless told."""
    with TestClient(create_app(settings.model_copy(update={"accelerate": request.param}),
                               run_directives=False)) as client:
        yield client


def unauthenticated(body: dict[str, Any], message: str) -> None:
    assert body == {"data": None, "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}


@pytest.mark.parametrize("document", list(DOCUMENTS))
@pytest.mark.parametrize("credentials", list(CREDENTIALS))
def test_post_without_a_valid_token_is_refused_unread(anonymous: TestClient, document: str,
                                                      credentials: str) -> None:
    headers, message = CREDENTIALS[credentials]
    response = anonymous.post("/graphql", json={"query": DOCUMENTS[document]}, headers=headers)
    assert response.status_code == 200, response.text
    unauthenticated(response.json(), message)


@pytest.mark.parametrize("document", ["costly", "unparsable", "invalid", "introspection"])
def test_get_without_a_token_is_refused_unread(anonymous: TestClient, document: str) -> None:
    response = anonymous.get("/graphql", params={"query": DOCUMENTS[document]})
    assert response.status_code == 200, response.text
    unauthenticated(response.json(), NO_TOKEN)


def test_graphiql_page_needs_no_token(anonymous: TestClient) -> None:
    page = anonymous.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_with_a_token_the_document_is_read(anonymous: TestClient) -> None:
    authorize(anonymous)
    assert anonymous.post("/graphql", json={"query": "mutation { __typename }"}).json() == {
        "data": {"__typename": "Mutation"}}
    refused = anonymous.post("/graphql", json={"query": UNPARSABLE}).json()
    assert refused["data"] is None and "Syntax Error" in refused["errors"][0]["message"]
    refused = anonymous.get("/graphql", params={"query": INVALID}).json()
    assert "noSuchField" in refused["errors"][0]["message"]


def test_refusals_are_counted_as_unauthenticated(anonymous: TestClient) -> None:
    authorize(anonymous)
    metrics = anonymous.get("/metrics").text
    line = next((x for x in metrics.splitlines() if x.startswith("omniman_graphql_errors_total{")
                 and 'code="UNAUTHENTICATED"' in x), None)
    before = float(line.rsplit(" ", 1)[1]) if line else 0.0
    token = anonymous.headers.pop("Authorization")
    anonymous.post("/graphql", json={"query": COSTLY})
    anonymous.headers["Authorization"] = token
    line = next(x for x in anonymous.get("/metrics").text.splitlines()
                if x.startswith("omniman_graphql_errors_total{") and 'code="UNAUTHENTICATED"' in x)
    assert float(line.rsplit(" ", 1)[1]) == before + 1


@pytest.mark.parametrize("document", ["costly", "unparsable"])
@pytest.mark.parametrize("init", [None, {}, {"Authorization": "Bearer omn_nope"}])
def test_websocket_without_a_valid_token_never_reaches_a_document(anonymous: TestClient, document: str,
                                                                  init: dict[str, str] | None) -> None:
    with anonymous.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        if init is not None:
            raw.send_json({"type": "connection_init", "payload": init})
        raw.send_json({"id": "1", "type": "subscribe", "payload": {"query": DOCUMENTS[document]}})
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                message = raw.receive_json()
                assert message.get("type") not in ("error", "next"), message  # nothing about the document
        assert closed.value.code == 4401

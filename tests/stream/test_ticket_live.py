"""A ticketed channel's orders reach an `orderEvents` subscriber with their pickup ticket on the message, live and
when replayed from a cursor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.api.operations import commit, make_channel, open_with_lines
from tests.fixtures.app import Api
from tests.graphql import authorize, create_token, init_payload
from tests.stream.wsclient import GraphQLWs, wait_for_watchers

EVENTS = """subscription($channels: [String!], $after: String) {
  orderEvents(channelCodes: $channels, after: $after) { cursor type ticket order { ref ticket } } }"""


@pytest.fixture
def stream_client(stream_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(stream_settings)) as client:
        authorize(client)
        yield client


def test_order_events_carry_the_ticket_live_and_replayed(stream_client: TestClient) -> None:
    api = Api(stream_client)
    channel = make_channel(api, config={"ticket": {"ref_type": "TICKET", "width": 4}})
    display = create_token(stream_client, "display", [channel], name="kds-tickets")
    with stream_client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as raw:
        ws = GraphQLWs(raw)
        ws.init(init_payload(display))
        ws.subscribe("kds", EVENTS, {"channels": [channel]})
        wait_for_watchers(stream_client, channel)
        ref = commit(api, channel, open_with_lines(api, channel)[0])["result"]["orderRef"]
        live = ws.next("kds")["orderEvents"]
        ws.complete("kds")
        ref2 = commit(api, channel, open_with_lines(api, channel)[0])["result"]["orderRef"]
        ws.subscribe("again", EVENTS, {"channels": [channel], "after": live["cursor"]})
        replayed = ws.next("again")["orderEvents"]
        ws.complete("again")
    assert (live["type"], live["ticket"], live["order"]) == ("created", "0001", {"ref": ref, "ticket": "0001"})
    assert (replayed["ticket"], replayed["order"]) == ("0002", {"ref": ref2, "ticket": "0002"})

"""A small graphql-transport-ws client over Starlette's TestClient websockets, and subscription documents."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient, WebSocketTestSession

from omniman_gql.live.feed import followers
from omniman_gql.live.revocations import TOKENS_TOPIC
from omniman_gql.live.shared import LiveFeeds
from tests.fixtures.stream import wait_until

ORDER_EVENTS = """subscription($channels: [String!], $statuses: [String!], $after: String) {
  orderEvents(channelCodes: $channels, statuses: $statuses, after: $after) {
    cursor type event { type payload } order { ref status channel { code } items { sku qty } } } }"""
SESSION_CHANGED = """subscription($channel: String!, $key: String!) {
  sessionChanged(channelCode: $channel, sessionKey: $key) { rev state itemsCount order { ref } } }"""


class GraphQLWs:
    """One websocket speaking graphql-transport-ws. `receive_json` has no timeout: pytest-timeout bounds it."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.pending: list[dict[str, Any]] = []

    def init(self, payload: dict[str, Any] | None = None) -> None:
        """`connection_init`; without a payload, with the token the test client sends on HTTP (`authorize`)."""
        if payload is None:
            headers = dict(self.ws.scope["headers"])
            payload = {"Authorization": headers[b"authorization"].decode()} if b"authorization" in headers else {}
        self.ws.send_json({"type": "connection_init", "payload": payload})
        assert self.ws.receive_json()["type"] == "connection_ack"

    def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        self.ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    def complete(self, op_id: str) -> None:
        self.ws.send_json({"id": op_id, "type": "complete"})

    def message(self, op_id: str) -> dict[str, Any]:
        """The next message of operation `op_id` (messages of other operations are kept for later)."""
        for index, message in enumerate(self.pending):
            if message.get("id") == op_id:
                return self.pending.pop(index)
        while True:
            message = self.ws.receive_json()
            if message.get("type") == "ping":
                self.ws.send_json({"type": "pong"})
                continue
            if message.get("id") == op_id:
                return message
            self.pending.append(message)

    def next(self, op_id: str) -> dict[str, Any]:
        """The data of the next `next` message of `op_id`, which must carry no errors."""
        message = self.message(op_id)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]  # type: ignore[no-any-return]


def live_of(client: TestClient) -> LiveFeeds:
    return client.app_state["live"]  # type: ignore[no-any-return]


def wait_for_watchers(client: TestClient, key: str | None, count: int = 1) -> None:
    """Until `count` feeds follow `key` in the app: from then on, nothing committed is missed."""
    live = live_of(client)
    wait_until(lambda: followers(live, key) >= count, what=f"{count} feed(s) on {key}")


def feed_subscribers(live: LiveFeeds) -> int:
    """Local pub/sub subscriptions of feeds (not counting the app's watch for revoked tokens, while sockets are
    open)."""
    fanout = live.pubsub.fanout  # type: ignore[attr-defined]
    listeners = {lst for listeners in (*fanout.exact.values(), *fanout.patterns.values()) for lst in listeners}
    return len([lst for lst in listeners if lst.topics != (TOKENS_TOPIC,)])


def wait_for_no_feeds(client: TestClient) -> None:
    live = live_of(client)
    wait_until(lambda: not live.tails.tails and feed_subscribers(live) == 0, what="feeds released")

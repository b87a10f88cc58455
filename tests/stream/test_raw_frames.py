"""Direct delivery's frames written straight to uvicorn's transport: the same messages as the ASGI path, on a real
server (uvicorn's websockets-sansio protocol), and the ASGI path kept where a socket uses compression or the
accelerators are off."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection, connect

from omniman_gql.live.feed import followers
from omniman_gql.live.tails import Tail, tail_topics
from omniman_gql.runtime import Hub
from omniman_gql.services.commit import commit_session
from omniman_gql.services.orders import transition_order
from omniman_gql.settings import Settings
from schema.accel_uvicorn import _frame_header
from schema.asgi import create_app
from schema.ws_auth import TEXTS_MAX, shared_text
from tests.api.operations import TRANSITION_ORDER, commit, make_channel, ok, open_with_lines
from tests.fixtures.app import Api, free_port, wait_for_health
from tests.fixtures.stream import wait_until
from tests.graphql import bearer, create_token_in
from tests.stream.wsclient import ORDER_EVENTS

CURSOR_ONLY = "subscription($channels: [String!]) { orderEvents(channelCodes: $channels) { cursor } }"


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536, 70000])
def test_frame_header_is_websockets_own_framing(length: int) -> None:
    payload = b"x" * length
    assert _frame_header(length) + payload == Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])


@pytest.fixture
def served(stream_settings: Settings, request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, Any]]]:
    """The app on a real uvicorn (in a thread, permessage-deflate allowed as uvicorn's default); yields its base URL
    and the app's lifespan state (caught from the lifespan scope) to see its feeds, with the server as `server`.
    Indirect parameters: settings to change (accelerated unless they say otherwise)."""
    update = {"accelerate": True, **getattr(request, "param", {})}
    app = create_app(stream_settings.model_copy(update=update), run_directives=False)
    state: dict[str, Any] = {}

    async def catching_state(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            state.update(lifespan=scope["state"])
        await app(scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(catching_state, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="on", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, name="uvicorn-raw-frames", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.config.port}"
    try:
        wait_for_health(base_url)
        yield base_url, {**state["lifespan"], "server": server}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "uvicorn did not stop"


def _socket(base_url: str, *, compression: str | None) -> ClientConnection:
    return connect(base_url.replace("http", "ws") + "/graphql", compression=compression,
                   subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]


def _init(ws: ClientConnection, secret: str) -> None:
    ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}}))
    assert json.loads(ws.recv())["type"] == "connection_ack"


def _next(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv())
        if message["type"] == "ping":
            ws.send(json.dumps({"type": "pong"}))
            continue
        return message  # type: ignore[no-any-return]


def _direct(tail: Tail, accelerate: bool) -> bool:
    """Every follower of `tail` delivered to by the tail's task (accelerated), or none of them."""
    return all(f.direct for f in tail.followers) if accelerate else not any(f.deliver for f in tail.followers)


def _raw(tail: Tail) -> list[bool]:
    """Per follower, whether its frames are written straight to the transport."""
    return sorted(getattr(f.deliver, "raw", None) is not None for f in tail.followers)


@pytest.mark.parametrize("served", [{"accelerate": True}, {"accelerate": False}], indirect=True)
def test_raw_frames_carry_the_asgi_paths_messages(served: tuple[str, dict[str, Any]],
                                                  stream_settings: Settings) -> None:
    base_url, state = served
    secret = create_token_in(stream_settings, "admin", name="raw-frames")
    with httpx.Client(base_url=base_url, headers=bearer(secret), timeout=30) as http:
        api = Api(http)  # type: ignore[arg-type]
        channel = make_channel(api)
        with _socket(base_url, compression=None) as plain, \
                _socket(base_url, compression="deflate") as deflated:  # uvicorn accepts it: ASGI path per message
            _init(plain, secret)
            _init(deflated, secret)
            # Ids that JSON must escape, a short frame (< 126 bytes) and a long one, both sockets.
            for ws in (plain, deflated):
                ws.send(json.dumps({"id": 'k"1', "type": "subscribe",
                                    "payload": {"query": ORDER_EVENTS, "variables": {"channels": [channel]}}}))
                ws.send(json.dumps({"id": "c\u00e9", "type": "subscribe",
                                    "payload": {"query": CURSOR_ONLY, "variables": {"channels": [channel]}}}))
            live = state["live"]
            accelerate = live.hub.settings.accelerate
            wait_until(lambda: followers(live, channel) == 4, what="4 feeds")
            group = live.tails.get(channel)
            wait_until(lambda: _direct(group, accelerate), what="direct delivery, or none")
            # The deflated socket's two keep the ASGI path; without the accelerators, all four do.
            assert _raw(group) == ([False, False, True, True] if accelerate else [False] * 4)
            key, _ = open_with_lines(api, channel)
            ref = commit(api, channel, key)["result"]["orderRef"]
            # `order` is the order as read when its event is delivered: the created event's messages are taken before
            # the transition, so that read precedes it (events read in one batch: the test after this one).
            received = {name: [_next(ws), _next(ws)] for name, ws in (("plain", plain), ("deflated", deflated))}
            ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": "confirmed"}})
            for name, ws in (("plain", plain), ("deflated", deflated)):
                received[name] += [_next(ws), _next(ws)]
            for messages in received.values():
                by_id: dict[str, list[dict[str, Any]]] = {}
                for message in messages:
                    assert message["type"] == "next" and "errors" not in message["payload"], message
                    by_id.setdefault(message["id"], []).append(message["payload"]["data"]["orderEvents"])
                assert sorted(by_id) == ['c\u00e9', 'k"1']
                assert [e["order"]["status"] for e in by_id['k"1']] == ["new", "confirmed"]
                assert [e["cursor"] for e in by_id["c\u00e9"]] == [e["cursor"] for e in by_id['k"1']]
            def per_operation(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return sorted(messages, key=lambda m: (m["id"], m["payload"]["data"]["orderEvents"]["cursor"]))

            assert per_operation(received["plain"]) == per_operation(received["deflated"])
            # Every message from the group's task, 4 of them written raw (counted just after the write that a reader
            # may see first).
            wait_until(lambda: group.delivered == (8 if accelerate else 0), what="8 delivered by the tail (or 0)")
            # `complete` still ends a raw-fed subscription at once, the other one goes on.
            plain.send(json.dumps({"id": 'k"1', "type": "complete"}))
            wait_until(lambda: followers(live, channel) == 3, what="one feed left")
            ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": "processing"}})
            last = _next(plain)
            assert last["id"] == "c\u00e9"


@pytest.mark.parametrize("served", [{"subscription_poll_s": 300, "accelerate": True},  # tails read when poked only
                                    {"subscription_poll_s": 300, "accelerate": False}], indirect=True)
def test_events_read_in_one_batch_carry_the_order_as_read_on_both_paths(served: tuple[str, dict[str, Any]],
                                                                       stream_settings: Settings) -> None:
    base_url, state = served
    secret = create_token_in(stream_settings, "admin", name="raw-frames-batch")
    with httpx.Client(base_url=base_url, headers=bearer(secret), timeout=30) as http:
        api = Api(http)  # type: ignore[arg-type]
        channel = make_channel(api)
        key, _ = open_with_lines(api, channel)  # session changes do not wake the channel's tail
        with _socket(base_url, compression=None) as plain, _socket(base_url, compression="deflate") as deflated:
            for ws in (plain, deflated):
                _init(ws, secret)
                ws.send(json.dumps({"id": "all", "type": "subscribe",
                                    "payload": {"query": ORDER_EVENTS, "variables": {"channels": [channel]}}}))
                ws.send(json.dumps({"id": "new", "type": "subscribe", "payload": {
                    "query": ORDER_EVENTS, "variables": {"channels": [channel], "statuses": ["new"]}}}))
            live = state["live"]
            accelerate = live.hub.settings.accelerate
            wait_until(lambda: followers(live, channel) == 4, what="4 feeds")
            group = live.tails.get(channel)
            wait_until(lambda: _direct(group, accelerate), what="direct delivery, or none")
            assert _raw(group) == ([False, False, True, True] if accelerate else [False] * 4)

            async def created_then_confirmed() -> None:
                # Another writer of the database, announcing nothing: the server's tail sees both events only when
                # poked after both commits, so it reads them in one snapshot.
                hub = Hub.create(stream_settings.model_copy(update={"redis_url": None}))
                try:
                    outcome = await commit_session(hub, channel_code=channel, session_key=key,
                                                   idempotency_key=uuid.uuid4().hex)
                    assert outcome.order is not None
                    await transition_order(hub, ref=outcome.order.ref, status="confirmed")
                finally:
                    await hub.dispose()

            anyio.run(created_then_confirmed)
            assert group.task is not None
            asyncio.run_coroutine_threadsafe(live.pubsub.publish(tail_topics(group.key)[0], {}),
                                             group.task.get_loop()).result(timeout=30)
            received = {name: [_next(ws), _next(ws), _next(ws)] for name, ws in (("plain", plain),
                                                                                 ("deflated", deflated))}
            for messages in received.values():
                by_id: dict[str, list[dict[str, Any]]] = {}
                for message in messages:
                    assert message["type"] == "next" and "errors" not in message["payload"], message
                    by_id.setdefault(message["id"], []).append(message["payload"]["data"]["orderEvents"])
                # Each message's order is the order as read when its event was delivered: both events were read
                # after the transition, so both say "confirmed"; the event itself says what happened, and the
                # `statuses` filter goes by the status right after each event.
                assert [(e["type"], e["event"]["payload"].get("new_status"), e["order"]["status"])
                        for e in by_id["all"]] == [("created", None, "confirmed"),
                                                   ("status_changed", "confirmed", "confirmed")]
                assert by_id["new"] == by_id["all"][:1]
            # The raw frames and the ASGI path's messages are the same messages.
            assert sorted(received["plain"], key=json.dumps) == sorted(received["deflated"], key=json.dumps)
            wait_until(lambda: group.delivered == (6 if accelerate else 0), what="6 delivered by the tail (or 0)")


def test_subscriptions_sending_one_text_keep_one_string() -> None:
    first = "".join(["subscription { orderEvents ", "{ cursor } }"])  # equal texts, distinct objects
    second = "".join(["subscription { orderEvents { cursor ", "} }"])
    assert first == second and first is not second
    assert shared_text(first) is shared_text(second) is first
    for index in range(TEXTS_MAX):  # only the most recent texts are remembered
        shared_text(f"query {{ q{index} }}")
    assert shared_text(second) is second

"""Parked subscriptions on a real uvicorn (accelerated): an `orderEvents` subscription whose tail delivers everything
keeps no operation task; it still gets every event, ends once on `complete` or a closed socket, and comes back to its
own pipeline (then parks again) when the tail cannot deliver: a socket paused for a slow reader, a failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from omniman_gql.infra import observability
from omniman_gql.live.feed import followers
from omniman_gql.live.inbox import SubscriptionClosed
from omniman_gql.live.tails import Tail
from omniman_gql.settings import Settings
from schema.accel_uvicorn import WebSocketsSansIOProtocol
from tests.api.operations import TRANSITION_ORDER, commit, make_channel, ok, open_with_lines
from tests.fixtures.app import Api
from tests.fixtures.stream import wait_until
from tests.graphql import bearer, create_token_in
from tests.stream.test_raw_frames import _init, _next, _socket, served  # noqa: F401 - `served` is the fixture
from tests.stream.wsclient import ORDER_EVENTS


def _open() -> float:
    return observability.SUBSCRIPTIONS_OPEN.labels("orderEvents")._value.get()  # type: ignore[no-any-return]


def _subscribe(ws: Any, operation_id: str, channel: str) -> None:
    ws.send(json.dumps({"id": operation_id, "type": "subscribe",
                        "payload": {"query": ORDER_EVENTS, "variables": {"channels": [channel]}}}))


@contextmanager
def _display(served: tuple[str, dict[str, Any]], settings: Settings, name: str) -> Iterator[tuple[Api, str, Any]]:
    """An admin's API client, a new channel, and a socket (no compression, so frames go the raw path) acknowledged
    with the admin's token."""
    base_url, _ = served
    secret = create_token_in(settings, "admin", name=name)
    with httpx.Client(base_url=base_url, headers=bearer(secret), timeout=30) as http:
        api = Api(http)  # type: ignore[arg-type]
        channel = make_channel(api)
        with _socket(base_url, compression=None) as ws:
            _init(ws, secret)
            yield api, channel, ws


def _all_parked(tail: Tail, count: int) -> bool:
    members = list(tail.followers)
    return len(members) == count and all(m.parked and m.direct for m in members)


def _order(api: Api, channel: str) -> str:
    key, _ = open_with_lines(api, channel)
    return commit(api, channel, key)["result"]["orderRef"]  # type: ignore[no-any-return]


def test_idle_subscriptions_park_get_every_event_and_end_once(served: tuple[str, dict[str, Any]],
                                                              stream_settings: Settings) -> None:
    _, state = served
    live = state["live"]
    before = _open()
    with _display(served, stream_settings, "parked") as (api, channel, ws):
        _subscribe(ws, "a", channel)
        _subscribe(ws, "b", channel)
        wait_until(lambda: followers(live, channel) == 2, what="2 feeds")
        tail = live.tails.get(channel)
        wait_until(lambda: _all_parked(tail, 2), what="both parked")
        assert _open() == before + 2  # parked subscriptions are still open ones
        ref = _order(api, channel)
        # Both created messages before the transition: each message's order is read when its event is delivered.
        messages = [_next(ws) for _ in range(2)]
        ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": "confirmed"}})
        messages += [_next(ws) for _ in range(2)]
        assert sorted((m["id"], m["payload"]["data"]["orderEvents"]["order"]["status"]) for m in messages) == [
            ("a", "confirmed"), ("a", "new"), ("b", "confirmed"), ("b", "new")]
        assert all(m["type"] == "next" and "errors" not in m["payload"] for m in messages)
        assert _all_parked(tail, 2)  # delivered by the tail: no operation had to run again
        ws.send(json.dumps({"id": "a", "type": "complete"}))
        wait_until(lambda: followers(live, channel) == 1, what="one feed left")
        assert _open() == before + 1
        ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": "processing"}})
        last = _next(ws)
        assert (last["id"], last["payload"]["data"]["orderEvents"]["order"]["status"]) == ("b", "processing")
    wait_until(lambda: followers(live, channel) == 0, what="no feed after the socket closed")
    wait_until(lambda: _open() == before, what="the gauge back where it was")


def test_a_parked_subscription_resumes_for_a_paused_socket_then_parks_again(served: tuple[str, dict[str, Any]],
                                                                            stream_settings: Settings) -> None:
    _, state = served
    live = state["live"]
    before = _open()
    with _display(served, stream_settings, "parked-paused") as (api, channel, ws):
        _subscribe(ws, "a", channel)
        wait_until(lambda: followers(live, channel) == 1, what="the feed")
        tail = live.tails.get(channel)
        wait_until(lambda: _all_parked(tail, 1), what="parked")
        (member,) = tail.followers
        assert tail.task is not None
        loop = tail.task.get_loop()
        (protocol,) = [c for c in state["server"].server_state.connections
                       if isinstance(c, WebSocketsSansIOProtocol)]
        loop.call_soon_threadsafe(protocol.pause_writing)  # as the transport does for a slow reader
        ref = _order(api, channel)
        # The tail cannot write the frame now: the subscription's own pipeline runs again to finish it.
        wait_until(lambda: not member.parked and not member.direct, what="resumed")
        loop.call_soon_threadsafe(protocol.resume_writing)
        first = _next(ws)
        assert (first["id"], first["payload"]["data"]["orderEvents"]["order"]["ref"]) == ("a", ref)
        wait_until(lambda: _all_parked(tail, 1), what="parked again")
        ok(api, TRANSITION_ORDER, "transitionOrder", {"input": {"ref": ref, "status": "confirmed"}})
        second = _next(ws)
        assert second["payload"]["data"]["orderEvents"]["order"]["status"] == "confirmed"
        assert first["payload"]["data"]["orderEvents"]["cursor"] != second["payload"]["data"]["orderEvents"][
            "cursor"]
        assert _open() == before + 1  # one subscription throughout
    wait_until(lambda: followers(live, channel) == 0 and _open() == before, what="ended once")


def test_a_parked_subscription_fails_through_its_pipeline(served: tuple[str, dict[str, Any]],
                                                          stream_settings: Settings) -> None:
    _, state = served
    live = state["live"]
    before = _open()
    with _display(served, stream_settings, "parked-failure") as (_api, channel, ws):
        _subscribe(ws, "a", channel)
        wait_until(lambda: live.tails.get(channel) is not None, what="the tail")
        tail = live.tails.get(channel)
        wait_until(lambda: _all_parked(tail, 1), what="parked")
        (member,) = tail.followers
        assert tail.task is not None
        # What the tail's task does to every member when its tail stops.
        tail.task.get_loop().call_soon_threadsafe(
            member.fail, SubscriptionClosed("The live stream stopped: tail gone", code="unavailable"))
        failed = _next(ws)
        assert failed["id"] == "a" and failed["type"] == "next", failed
        (error,) = failed["payload"]["errors"]
        assert error["message"] == "The live stream stopped: tail gone"
        assert error["extensions"]["code"] == "UNAVAILABLE"
        assert _next(ws) == {"id": "a", "type": "complete"}
        wait_until(lambda: followers(live, channel) == 0, what="left the tail")
        assert _open() == before

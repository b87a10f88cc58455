"""The per-process token cache: a revoked token is refused on the next request, in the process that revoked it and
in another one sharing Redis; without an announcement, after `token_cache_s`; unknown tokens never fill it; one
subscription per process tells the cache and the websockets alike."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from omniman_gql.live.pubsub import InProcessPubSub
from omniman_gql.live.revocations import TOKENS_TOPIC, Revocations
from omniman_gql.live.token_cache import TokenCache
from omniman_gql.runtime import Hub
from omniman_gql.services import auth
from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.fixtures.app import Api
from tests.fixtures.stream import eventually, wait_until
from tests.graphql import authorize, create_token, gql, init_payload, revoke_silently

WHO = "query { channels { code } }"
REVOKE = "mutation($id: ID!) { revokeToken(id: $id) { errors { code } } }"
LONG = 60.0  # a cache lifetime no test outlasts: whatever refuses a revoked token sooner is the announcement


def cache_of(client: TestClient) -> TokenCache:
    return client.app_state["tokens"]  # type: ignore[no-any-return]


def token_id(client: TestClient, name: str) -> str:
    return next(t["id"] for t in Api(client).data("query { tokens { id name } }")["tokens"] if t["name"] == name)


def refused(client: TestClient, secret: str) -> bool:
    body = gql(client, WHO, token=secret)
    return body["data"] is None and body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


@pytest.fixture(params=["inprocess", "redis"])
def cache_settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    base = request.getfixturevalue("stream_settings") if request.param == "redis" else settings
    return base.model_copy(update={"token_cache_s": LONG})


@pytest.fixture
def cached_client(cache_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(cache_settings, run_directives=False)) as client:
        authorize(client)
        wait_until(lambda: cache_of(client).active, what="the token cache listening")
        yield client


def test_a_token_revoked_in_this_process_is_refused_on_the_next_request(cached_client: TestClient) -> None:
    client = cached_client
    secret = create_token(client, "staff", name="doomed")
    doomed = token_id(client, "doomed")  # the admin's token is remembered from here on
    assert gql(client, WHO, token=secret) == {"data": {"channels": []}}
    assert gql(client, WHO, token=secret) == {"data": {"channels": []}}  # from memory now
    assert len(cache_of(client)) == 2
    assert Api(client).data(REVOKE, {"id": doomed})["revokeToken"]["errors"] == []
    assert refused(client, secret)
    assert len(cache_of(client)) == 1
    assert gql(client, WHO) == {"data": {"channels": []}}  # the admin's token is still remembered and works


def test_a_token_revoked_by_another_process_is_refused_once_redis_carried_the_word(
        settings: Settings, request: pytest.FixtureRequest) -> None:
    shared = request.getfixturevalue("stream_settings").model_copy(update={"token_cache_s": LONG})
    with TestClient(create_app(shared, run_directives=False)) as here, \
            TestClient(create_app(shared, run_directives=False)) as there:
        authorize(here)
        authorize(there)
        wait_until(lambda: cache_of(here).active and cache_of(there).active, what="both caches listening")
        secret = create_token(here, "staff", name="doomed")
        assert gql(there, WHO, token=secret) == {"data": {"channels": []}}
        doomed = next(p.token_id for p, _ in cache_of(there)._entries.values() if p.name == "doomed")
        assert Api(here).data(REVOKE, {"id": str(doomed)})["revokeToken"]["errors"] == []
        # The other process forgets it when the announcement arrives, not when its (long) lifetime ends.
        wait_until(lambda: all(p.token_id != doomed for p, _ in cache_of(there)._entries.values()),
                   what="the other process forgetting the revoked token")
        assert refused(there, secret)
        assert refused(here, secret)


def test_a_revocation_nobody_announced_takes_effect_after_the_cache_lifetime(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"token_cache_s": 0.2}), run_directives=False)) as client:
        authorize(client)
        row, secret = Api(client).run(auth.create_token, Api(client).hub, name="doomed", role="staff")
        assert gql(client, WHO, token=secret) == {"data": {"channels": []}}
        Api(client).run(revoke_silently, settings, row.id)
        wait_until(lambda: refused(client, secret), what="the revoked token refused")



def test_unknown_tokens_are_never_remembered(cached_client: TestClient) -> None:
    client = cached_client
    gql(client, WHO)
    before = len(cache_of(client))
    assert before >= 1
    for i in range(50):
        assert refused(client, f"omn_guess-{i}")
    assert len(cache_of(client)) == before


@pytest.mark.anyio
async def test_the_cache_holds_at_most_max_entries_live_tokens(hub: Hub) -> None:
    revocations = Revocations(hub, InProcessPubSub(), recheck_s=LONG)
    cache = TokenCache(hub, revocations, ttl_s=LONG, max_entries=2)
    async with revocations.running():
        await eventually(lambda: cache.active, what="the cache listening")
        secrets = [(await auth.create_token(hub, name=f"t{i}", role="staff"))[1] for i in range(3)]
        for secret in secrets:
            assert (await cache.authenticate(secret)) is not None
        assert len(cache) == 2
        assert [p.name for p, _ in cache._entries.values()] == ["t1", "t2"]  # the oldest went first
        assert (await cache.authenticate(secrets[0])) is not None  # still served, from the database


@pytest.mark.parametrize("sockets", [0, 3])
def test_one_tokens_subscription_tells_the_cache_and_closes_the_sockets(
        settings: Settings, request: pytest.FixtureRequest, sockets: int) -> None:
    settings = request.getfixturevalue("stream_settings").model_copy(
        update={"token_cache_s": LONG, "token_recheck_s": 60.0})
    client_redis = request.getfixturevalue("redis_client")
    topic = f"{settings.broker_namespace}:{TOKENS_TOPIC}"
    with TestClient(create_app(settings, run_directives=False)) as client:
        authorize(client)
        wait_until(lambda: cache_of(client).active, what="the token cache listening")
        secret = create_token(client, "staff", name="doomed")
        assert gql(client, WHO, token=secret)["data"] is not None  # remembered from here on
        opened = [client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) for _ in range(sockets)]
        for raw in opened:
            raw.__enter__().send_json({"type": "connection_init", "payload": init_payload(secret)})
            assert raw.receive_json()["type"] == "connection_ack"
        # Given the cache and the open sockets of one process, when they all wait for revocations...
        live = client.app_state["live"]
        listeners = set(live.pubsub.fanout.exact.get(TOKENS_TOPIC, ()))
        assert len(listeners) == 1 and live.revocations.watched() == sockets
        assert dict(client_redis.pubsub_numsub(topic)) == {topic.encode(): 1}
        # ...then one announcement refuses the token over HTTP and closes its sockets.
        doomed = token_id(client, "doomed")
        started = time.monotonic()
        assert Api(client).data(REVOKE, {"id": doomed})["revokeToken"]["errors"] == []
        assert refused(client, secret)
        for raw in opened:
            with pytest.raises(WebSocketDisconnect) as closed:
                while True:
                    raw.receive_json()
            assert closed.value.code == 4401
        assert time.monotonic() - started < 5, "closed by the announcement, not by the recheck"
        wait_until(lambda: live.revocations.watched() == 0, what="no socket left to watch")
        for raw in opened:
            raw.__exit__(None, None, None)

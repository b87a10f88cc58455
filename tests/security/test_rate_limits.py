"""Rate limits (concepts.md §17): per token and class (commit here), shared by web processes through Redis, and bad
tokens per client address over HTTP and websocket `connection_init`; off with `rate_limits=false`."""

from __future__ import annotations

import hashlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.api.operations import COMMIT_SESSION, make_channel, open_with_lines
from tests.fixtures.app import Api, serving
from tests.graphql import bearer, create_token, create_token_in, init_payload

ORDERS_COUNT = "query($channel: String!) { orders(channelCode: $channel, first: 50) { edges { node { ref } } } }"
CHANNELS = "{ channels { code } }"


def _commit(api: Api, channel: str, key: str, *, expect_status: int = 200) -> dict[str, Any]:
    return api(COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": key,
                                          "idempotencyKey": uuid.uuid4().hex}}, expect_status=expect_status)


def _orders(api: Api, channel: str) -> list[str]:
    return [e["node"]["ref"] for e in api.data(ORDERS_COUNT, {"channel": channel})["orders"]["edges"]]


def _rate_limited(body: dict[str, Any], limit: str) -> int:
    """Assert `body` is the whole-request RATE_LIMITED refusal of `limit`; returns its retryAfter."""
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED" and error["extensions"]["limit"] == limit, body
    retry_after = error["extensions"]["retryAfter"]
    assert isinstance(retry_after, int) and retry_after >= 1
    return retry_after


def test_rate_limit_commit_refused_with_retry_after_until_the_window_ends(database_url: str) -> None:
    settings = Settings(database_url=database_url, redis_url=None, rate_limit_commit="2/second")
    with TestClient(create_app(settings, run_directives=False)) as client:
        client.headers.update(bearer(create_token(client)))
        api = Api(client)
        channel = make_channel(api)
        keys = [open_with_lines(api, channel)[0] for _ in range(4)]
        # Given two commits in this second's window
        for key in keys[:2]:
            assert _commit(api, channel, key)["data"]["commitSession"]["errors"] == []
        # When a third comes in the same window: 429, Retry-After, and no order
        response = client.post("/graphql", json={"query": COMMIT_SESSION, "variables": {"input": {
            "channelCode": channel, "sessionKey": keys[2], "idempotencyKey": "K-3"}}})
        assert response.status_code == 429, response.text
        retry_after = _rate_limited(response.json(), "commit")
        assert response.headers["retry-after"] == str(retry_after) == "1"
        assert len(_orders(api, channel)) == 2  # reads are another class: still served
        # Then, once the window has passed, the same commit works
        time.sleep(retry_after + 0.05)  # the documented window, not a race
        body = _commit(api, channel, keys[2])
        assert body["data"]["commitSession"]["errors"] == [], body
        assert len(_orders(api, channel)) == 3
        metrics = client.get("/metrics").text
        assert 'omniman_rate_limited_total{limit="commit"}' in metrics


def test_rate_limits_off_never_refuse(database_url: str) -> None:
    settings = Settings(database_url=database_url, redis_url=None, rate_limits=False, rate_limit_commit="1/hour")
    with TestClient(create_app(settings, run_directives=False)) as client:
        client.headers.update(bearer(create_token(client)))
        api = Api(client)
        channel = make_channel(api)
        for _ in range(3):
            key = open_with_lines(api, channel)[0]
            assert _commit(api, channel, key)["data"]["commitSession"]["errors"] == []


@pytest.mark.redis
def test_rate_limit_commit_budget_shared_by_two_web_processes_through_redis(database_url: str, redis_url: str,
                                                                            namespace: str) -> None:
    settings = Settings(database_url=database_url, redis_url=redis_url, broker_namespace=namespace,
                        rate_limit_commit="2/minute")
    token = create_token_in(settings)
    headers = bearer(token)
    with serving(create_app(settings, run_directives=False)) as a, \
            serving(create_app(settings, run_directives=False)) as b:
        def post(base: str, query: str, variables: dict[str, Any]) -> httpx.Response:
            return httpx.post(f"{base}/graphql", json={"query": query, "variables": variables}, headers=headers,
                              timeout=10)

        channel = f"pos-{uuid.uuid4().hex[:6]}"
        assert post(a, "mutation($c: String!) { upsertChannel(input: {code: $c}) { errors { code } } }",
                    {"c": channel}).status_code == 200
        keys = []
        for n in range(3):
            key = f"S-{n}"
            post(a, "mutation($i: OpenSessionInput!) { openSession(input: $i) { errors { code } } }",
                 {"i": {"channelCode": channel, "sessionKey": key}})
            post(b, "mutation($i: ModifySessionInput!) { modifySession(input: $i) { errors { code } } }",
                 {"i": {"channelCode": channel, "sessionKey": key,
                        "ops": [{"addLine": {"sku": "A", "qty": "1", "unitPriceQ": 100}}]}})
            keys.append(key)

        def commit_on(base: str, key: str) -> httpx.Response:
            return post(base, COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": key,
                                                         "idempotencyKey": f"K-{key}"}})

        # One commit on each process spends the token's budget of 2 …
        for base, key in ((a, keys[0]), (b, keys[1])):
            response = commit_on(base, key)
            assert response.status_code == 200 and response.json()["data"]["commitSession"]["errors"] == []
        # … so the third is refused wherever it goes
        refused = commit_on(a, keys[2])
        assert refused.status_code == 429, refused.text
        _rate_limited(refused.json(), "commit")
        listed = post(b, ORDERS_COUNT, {"channel": channel}).json()
        assert len(listed["data"]["orders"]["edges"]) == 2


@pytest.fixture
def proxied_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, redis_url=None, rate_limit_auth_failures="50/minute")


def test_rate_limit_auth_failures_per_address_refuse_even_a_good_token(proxied_settings: Settings) -> None:
    token = create_token_in(proxied_settings)
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 (its default `forwarded_allow_ips`): the proxy of this test
    with serving(create_app(proxied_settings, run_directives=False)) as base, httpx.Client(timeout=10) as http:
        def query(secret: str, address: str) -> httpx.Response:
            return http.post(f"{base}/graphql", json={"query": CHANNELS},
                             headers={**bearer(secret), "X-Forwarded-For": address})

        for n in range(50):
            body = query(f"guess-{n}", "203.0.113.7").json()
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
        refused = query(token, "203.0.113.7")  # the good token, from the guessing address
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        _rate_limited(refused.json(), "auth_failures")
        assert query("guess-51", "203.0.113.7").status_code == 429
        # Another address is unaffected, with a good token or a bad one
        assert query(token, "203.0.113.8").json() == {"data": {"channels": []}}
        assert query("guess", "203.0.113.8").json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_rate_limit_auth_failures_window_ends_and_websockets_count(database_url: str) -> None:
    settings = Settings(database_url=database_url, redis_url=None, rate_limit_auth_failures="3/second")
    with TestClient(create_app(settings, run_directives=False)) as client:
        token = create_token(client)
        # Given three bad tokens in websocket `connection_init`s (each closed 4401) …
        for n in range(3):
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                ws.send_json({"type": "connection_init", "payload": init_payload(f"bad-{n}")})
                with pytest.raises(WebSocketDisconnect) as closed:
                    ws.receive_json()
                assert closed.value.code == 4401
        # … a good token from that address is refused, on a websocket (4429) and over HTTP (429)
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": init_payload(token)})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4429 and "try again in" in (closed.value.reason or "")
        response = client.post("/graphql", json={"query": CHANNELS}, headers=bearer(token))
        assert response.status_code == 429, response.text
        retry_after = _rate_limited(response.json(), "auth_failures")
        # When the window has ended, the good token is served again
        time.sleep(retry_after + 0.05)
        response = client.post("/graphql", json={"query": CHANNELS}, headers=bearer(token))
        assert response.status_code == 200 and "errors" not in response.json(), response.text


def test_rate_limit_read_refuses_a_subscription_with_an_error_message(database_url: str) -> None:
    settings = Settings(database_url=database_url, redis_url=None, rate_limit_read="1/minute")
    with TestClient(create_app(settings, run_directives=False)) as client:
        token = create_token(client)
        assert client.post("/graphql", json={"query": CHANNELS}, headers=bearer(token)).status_code == 200
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": init_payload(token)})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json({"id": "1", "type": "subscribe", "payload": {
                "query": "subscription { orderEvents(channelCodes: [\"pos\"]) { cursor } }"}})
            message = ws.receive_json()
            assert message["type"] == "error" and message["id"] == "1", message
            assert message["payload"][0]["extensions"]["code"] == "RATE_LIMITED"


def test_rate_limit_modify_counts_modifies_not_other_mutations(database_url: str) -> None:
    settings = Settings(database_url=database_url, redis_url=None, rate_limit_modify="1/minute")
    with TestClient(create_app(settings, run_directives=False)) as client:
        client.headers.update(bearer(create_token(client)))
        api = Api(client)
        channel = make_channel(api)
        key, _ = open_with_lines(api, channel)  # openSession is not limited; this modify spends the budget
        ops = {"input": {"channelCode": channel, "sessionKey": key,
                         "ops": [{"addLine": {"sku": "TEA", "qty": "1", "unitPriceQ": 300}}]}}
        refused = api("mutation($input: ModifySessionInput!) { modifySession(input: $input) { session { rev } } }",
                      ops, expect_status=429)
        _rate_limited(refused, "modify")
        open_with_lines(api, channel, lines=[])  # other mutations still served
        rev = api.data("query($c: String!, $k: String!) { session(channelCode: $c, sessionKey: $k) { rev } }",
                       {"c": channel, "k": key})["session"]["rev"]
        assert rev == 1  # the refused modify changed nothing


def test_rate_limit_read_refuses_a_legacy_graphql_ws_start(database_url: str) -> None:
    settings = Settings(database_url=database_url, redis_url=None, rate_limit_read="1/minute",
                        legacy_graphql_ws=True)
    with TestClient(create_app(settings, run_directives=False)) as client:
        token = create_token(client)
        with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": init_payload(token)})
            assert ws.receive_json()["type"] == "connection_ack"
            query = "subscription { orderEvents(channelCodes: [\"pos\"]) { cursor } }"
            ws.send_json({"id": "1", "type": "start", "payload": {"query": query}})  # spends the budget
            ws.send_json({"id": "2", "type": "start", "payload": {"query": query}})
            message = ws.receive_json()
            while message.get("type") == "ka":
                message = ws.receive_json()
            assert message["type"] == "error" and message["id"] == "2", message
            assert message["payload"]["extensions"]["code"] == "RATE_LIMITED"


@pytest.mark.redis
def test_rate_limit_concurrent_commits_on_two_processes_commit_exactly_the_budget(database_url: str, redis_url: str,
                                                                                 namespace: str) -> None:
    settings = Settings(database_url=database_url, redis_url=redis_url, broker_namespace=namespace,
                        rate_limit_commit="4/minute")
    headers = bearer(create_token_in(settings))
    with serving(create_app(settings, run_directives=False)) as a, \
            serving(create_app(settings, run_directives=False)) as b, httpx.Client(timeout=20) as http:
        def post(base: str, query: str, variables: dict[str, Any]) -> httpx.Response:
            return http.post(f"{base}/graphql", json={"query": query, "variables": variables}, headers=headers)

        channel = f"pos-{uuid.uuid4().hex[:6]}"
        post(a, "mutation($c: String!) { upsertChannel(input: {code: $c}) { errors { code } } }", {"c": channel})
        keys = [f"S-{n}" for n in range(10)]
        for key in keys:
            post(a, "mutation($i: OpenSessionInput!) { openSession(input: $i) { errors { code } } }",
                 {"i": {"channelCode": channel, "sessionKey": key}})
            post(a, "mutation($i: ModifySessionInput!) { modifySession(input: $i) { errors { code } } }",
                 {"i": {"channelCode": channel, "sessionKey": key,
                        "ops": [{"addLine": {"sku": "A", "qty": "1", "unitPriceQ": 100}}]}})

        # When ten commits race, five through each process
        def commit_on(n: int) -> int:
            return post((a, b)[n % 2], COMMIT_SESSION, {"input": {"channelCode": channel, "sessionKey": keys[n],
                                                                  "idempotencyKey": f"K-{n}"}}).status_code

        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = sorted(pool.map(commit_on, range(10)))

        # Then exactly the budget of four went through, and the six refused made no order
        assert statuses == [200] * 4 + [429] * 6
        listed = post(b, ORDERS_COUNT, {"channel": channel}).json()
        assert len(listed["data"]["orders"]["edges"]) == 4


def test_a_persisted_commit_sent_by_hash_only_is_charged_as_a_commit(database_url: str) -> None:
    """Automatic persisted queries send no document text: the class comes from the stored document, so a hash-only
    commit cannot slip past the commit rate as a 'read'."""
    settings = Settings(database_url=database_url, redis_url=None, rate_limit_commit="1/hour")
    with TestClient(create_app(settings, run_directives=False)) as client:
        client.headers.update(bearer(create_token(client)))
        api = Api(client)
        channel = make_channel(api)
        first, second = (open_with_lines(api, channel)[0] for _ in range(2))
        digest = hashlib.sha256(COMMIT_SESSION.encode()).hexdigest()
        persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}

        def variables(key: str) -> dict[str, Any]:
            return {"input": {"channelCode": channel, "sessionKey": key, "idempotencyKey": uuid.uuid4().hex}}

        # Given the commit document stored by a first (full) commit, which spends the hour's one commit
        stored = client.post("/graphql", json={"query": COMMIT_SESSION, "variables": variables(first),
                                               "extensions": persisted})
        assert stored.status_code == 200 and stored.json()["data"]["commitSession"]["errors"] == [], stored.text
        # When the next commit comes by hash only, it is refused as a commit and makes no order
        by_hash = client.post("/graphql", json={"variables": variables(second), "extensions": persisted})
        assert by_hash.status_code == 429, by_hash.text
        _rate_limited(by_hash.json(), "commit")
        assert len(_orders(api, channel)) == 1


def test_unknown_persisted_hashes_are_charged_as_reads(database_url: str) -> None:
    """A hash-only request for a document the hub does not have still costs a store lookup: it counts as a read, so
    a token cannot probe hashes past its read rate."""
    settings = Settings(database_url=database_url, redis_url=None, rate_limit_read="3/hour")
    with TestClient(create_app(settings, run_directives=False)) as client:
        client.headers.update(bearer(create_token(client)))
        codes = []
        for n in range(4):
            sha = hashlib.sha256(f"query Q{n} {{ channels {{ code }} }}".encode()).hexdigest()
            answer = client.post("/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}})
            codes.append((answer.status_code, answer.json()["errors"][0]["extensions"]["code"]))
        assert codes == [(200, "PERSISTED_QUERY_NOT_FOUND")] * 3 + [(429, "RATE_LIMITED")]

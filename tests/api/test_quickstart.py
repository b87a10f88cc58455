"""The contract's quick start over HTTP, GraphiQL's example, and the GET rules of /graphql."""

from __future__ import annotations

from starlette.testclient import TestClient

from schema.quickstart import OPERATIONS, QUICK_START
from tests.fixtures.app import Api

from .operations import ERRORS, make_channel

OPEN = f"""mutation($channel: String!, $key: String!) {{
  openSession(input: {{channelCode: $channel, sessionKey: $key}}) {{ session {{ rev }} {ERRORS} }} }}"""
ADD_LINES = f"""mutation($channel: String!, $key: String!) {{
  modifySession(input: {{channelCode: $channel, sessionKey: $key, ops: [
    {{addLine: {{sku: "COFFEE", qty: "2", unitPriceQ: 550}}}},
    {{addLine: {{sku: "CROISSANT", qty: "1", unitPriceQ: 850}}}}]}}) {{
    session {{ rev items {{ lineId }} totalQ }} {ERRORS} }} }}"""
COMMIT = f"""mutation($channel: String!, $key: String!, $idem: String) {{
  commitSession(input: {{channelCode: $channel, sessionKey: $key, idempotencyKey: $idem}}) {{
    result {{ orderRef totalQ }} replayed {ERRORS} }} }}"""
ORDER_COUNT = """query { orders(first: 100) { edges { node { ref } } } }"""


def test_quick_start_commits_once_and_replays(api: Api) -> None:
    channel = make_channel(api, code="pos")
    variables = {"channel": channel, "key": "DEMO-001"}

    opened = api.data(OPEN, variables)["openSession"]
    modified = api.data(ADD_LINES, variables)["modifySession"]
    first = api.data(COMMIT, {**variables, "idem": "DEMO-CHECKOUT-001"})["commitSession"]
    again = api.data(COMMIT, {**variables, "idem": "DEMO-CHECKOUT-001"})["commitSession"]

    assert opened == {"session": {"rev": 0}, "errors": []}
    assert modified["errors"] == [] and modified["session"]["rev"] == 1
    assert len(modified["session"]["items"]) == 2 and modified["session"]["totalQ"] == 1950
    assert first["errors"] == [] and first["replayed"] is False and first["result"]["totalQ"] == 1950
    assert first["result"]["orderRef"].startswith("ORD-")
    assert again == {"result": first["result"], "replayed": True, "errors": []}
    assert len(api.data(ORDER_COUNT)["orders"]["edges"]) == 1


def test_commit_without_a_key_generates_one(api: Api) -> None:
    channel = make_channel(api)
    api.data(OPEN, {"channel": channel, "key": "K-1"})
    api.data(ADD_LINES, {"channel": channel, "key": "K-1"})
    result = api(COMMIT.replace("replayed", "replayed idempotencyKey"), {"channel": channel, "key": "K-1"})
    body = result["data"]["commitSession"]
    assert body["errors"] == [] and body["replayed"] is False
    assert body["idempotencyKey"].startswith("gen-")


def test_graphiql_example_is_the_quick_start_and_runs_as_written(api: Api, client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert "mutation CreateChannel" in page.text and "DEMO-CHECKOUT-001" in page.text
    results = {name: api.data(QUICK_START, operation=name) for name in OPERATIONS}
    commit = results["Commit"]["commitSession"]
    assert commit["errors"] == [] and commit["result"]["totalQ"] == 1950
    recent = results["RecentOrders"]["orders"]["edges"]
    assert [edge["node"]["ref"] for edge in recent] == [commit["result"]["orderRef"]]
    assert api.data(QUICK_START, operation="Commit")["commitSession"]["replayed"] is True


def test_graphiql_can_be_turned_off(settings: object) -> None:
    from omniman_gql.settings import Settings
    from schema.asgi import create_app

    assert isinstance(settings, Settings)
    with TestClient(create_app(settings.model_copy(update={"graphiql": False}))) as client:
        page = client.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()


def test_get_runs_queries_but_never_mutations(client: TestClient) -> None:
    query = client.get("/graphql", params={"query": "{ channels { code } }"})
    assert query.status_code == 200 and query.json() == {"data": {"channels": []}}
    mutation = client.get("/graphql", params={
        "query": 'mutation { upsertChannel(input: {code: "x"}) { errors { code } } }'})
    assert mutation.status_code == 400 and "mutations are not allowed" in mutation.text.lower()
    assert client.post("/graphql", json={"query": "{ channels { code } }"}).json() == {"data": {"channels": []}}


def test_committing_a_committed_session_with_another_key_returns_its_order(api: Api) -> None:
    channel = make_channel(api)
    api.data(OPEN, {"channel": channel, "key": "K-2"})
    api.data(ADD_LINES, {"channel": channel, "key": "K-2"})
    first = api.data(COMMIT, {"channel": channel, "key": "K-2", "idem": "A"})["commitSession"]
    other = api.data(COMMIT.replace("orderRef totalQ", "orderRef totalQ status"),
                     {"channel": channel, "key": "K-2", "idem": "B"})["commitSession"]
    assert other["errors"] == [] and other["replayed"] is False
    assert other["result"] == {"orderRef": first["result"]["orderRef"], "totalQ": 1950, "status": "already_committed"}
    assert len(api.data(ORDER_COUNT)["orders"]["edges"]) == 1

"""Token administration: the admin mutations and query, and `omniman token create|list|revoke`; the first admin
token of `omniman serve`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from omniman_gql.cli import main
from omniman_gql.cli.tokens import announce_first_admin_token, first_admin_token
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings, get_settings
from tests.factories import make_channel
from tests.fixtures.app import Api
from tests.graphql import gql

CREATE = """mutation($input: CreateTokenInput!) { createToken(input: $input) {
  secret token { id name role channels prefix revokedAt } errors { code field } } }"""
REVOKE = """mutation($id: ID!) { revokeToken(id: $id) { token { id revokedAt } errors { code field } } }"""
TOKENS = """query($all: Boolean!) { tokens(includeRevoked: $all) { id name role channels prefix revokedAt } }"""
WHO = """query { channels { code } }"""


def test_create_shows_the_secret_once_and_it_works_at_once(api: Api, client: TestClient) -> None:
    api.data("mutation { upsertChannel(input: {code: \"pos\"}) { errors { code } } }")
    body = api.data(CREATE, {"input": {"name": "till-1", "role": "CLIENT", "channels": ["pos"]}})["createToken"]
    token = body["token"]
    assert body["errors"] == [] and body["secret"].startswith("omn_") and body["secret"].startswith(token["prefix"])
    assert {k: token[k] for k in ("name", "role", "channels", "revokedAt")} == {
        "name": "till-1", "role": "CLIENT", "channels": ["pos"], "revokedAt": None}
    assert gql(client, WHO, token=body["secret"]) == {"data": {"channels": [{"code": "pos"}]}}
    listed = api.data(TOKENS, {"all": False})["tokens"]
    assert token in listed and body["secret"] not in str(listed)


@pytest.mark.parametrize(("variables", "field"), [
    ({"name": "till", "role": "CLIENT"}, ["channels"]),
    ({"name": "kds", "role": "DISPLAY", "channels": []}, ["channels"]),
    ({"name": "maria", "role": "STAFF", "channels": ["pos"]}, ["channels"]),
    ({"name": " ", "role": "ADMIN"}, ["name"]),
    ({"name": "x" * 201, "role": "ADMIN"}, ["name"]),
    ({"name": "till", "role": "CLIENT", "channels": ["c"] * 101}, ["channels"]),
])
def test_create_refuses_bad_names_and_scopes(api: Api, variables: dict[str, object], field: list[str]) -> None:
    body = api.data(CREATE, {"input": variables})["createToken"]
    assert body == {"secret": None, "token": None, "errors": [{"code": "invalid_input", "field": field}]}


def test_revoke_stops_the_token_at_once(api: Api, client: TestClient) -> None:
    body = api.data(CREATE, {"input": {"name": "gone", "role": "STAFF"}})["createToken"]
    assert gql(client, WHO, token=body["secret"]) == {"data": {"channels": []}}
    revoked = api.data(REVOKE, {"id": body["token"]["id"]})["revokeToken"]
    assert revoked["errors"] == [] and revoked["token"]["revokedAt"] is not None
    refused = gql(client, WHO, token=body["secret"])
    assert refused["data"] is None and refused["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert body["token"]["id"] not in [t["id"] for t in api.data(TOKENS, {"all": False})["tokens"]]
    assert body["token"]["id"] in [t["id"] for t in api.data(TOKENS, {"all": True})["tokens"]]
    again = api.data(REVOKE, {"id": body["token"]["id"]})["revokeToken"]  # revoking twice is fine
    assert again["errors"] == []


@pytest.mark.parametrize("token_id", ["999999", "abc", "-1", "1" * 40])
def test_revoking_an_unknown_token_is_not_found(api: Api, token_id: str) -> None:
    assert api.data(REVOKE, {"id": token_id})["revokeToken"] == {
        "token": None, "errors": [{"code": "not_found", "field": ["id"]}]}


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The command line on the test's database."""
    monkeypatch.setenv("OMNIMAN_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        get_settings.cache_clear()


def make_channels(settings: Settings, *codes: str) -> None:
    async def run() -> None:
        hub = Hub.create(settings)
        try:
            for code in codes:
                await make_channel(hub, code)
        finally:
            await hub.dispose()

    asyncio.run(run())


def test_cli_token_create_refuses_a_taken_name_and_a_missing_channel(cli_env: Settings,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    make_channels(cli_env, "pos")
    assert main(["token", "create", "--role", "display", "--channel", "pos", "--name", "kds-1"]) == 0
    capsys.readouterr()

    taken = main(["token", "create", "--role", "admin", "--name", "kds-1"])
    taken_err = capsys.readouterr().err
    missing = main(["token", "create", "--role", "display", "--channel", "bar", "--name", "kds-2"])
    missing_err = capsys.readouterr().err

    assert taken != 0 and "already named 'kds-1'" in taken_err
    assert missing != 0 and "No channel 'bar'" in missing_err


def test_cli_create_prints_the_token_alone_on_the_last_line(cli_env: Settings, app: object,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    make_channels(cli_env, "pos", "web")
    assert main(["token", "create", "--role", "display", "--channel", "pos", "--channel", "web",
                 "--name", "kds-1"]) == 0
    out = capsys.readouterr().out
    secret = out.splitlines()[-1]
    assert secret.startswith("omn_") and secret.strip() == secret and len(secret) > 40
    with TestClient(app) as client:  # type: ignore[arg-type]
        assert gql(client, WHO, token=secret) == {"data": {"channels": [{"code": "pos"}, {"code": "web"}]}}
    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "kds-1" in listing and "display" in listing and "pos, web" in listing and secret not in listing
    token_id = listing.splitlines()[-1].split()[0]
    assert main(["token", "revoke", token_id]) == 0
    assert "Revoked" in capsys.readouterr().out
    with TestClient(app) as client:  # type: ignore[arg-type]
        assert gql(client, WHO, token=secret)["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert main(["token", "list"]) == 0
    assert "kds-1" not in capsys.readouterr().out
    assert main(["token", "list", "--all"]) == 0
    assert "kds-1" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["token", "create", "--role", "client", "--name", "till"],
                                  ["token", "create", "--role", "admin", "--channel", "pos", "--name", "boss"],
                                  ["token", "revoke", "424242"]])
def test_cli_errors_are_clear_and_exit_1(cli_env: Settings, argv: list[str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "omn_" not in captured.out


def test_serve_makes_a_first_admin_token_only_on_a_database_without_tokens(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    announce_first_admin_token(settings, "http://127.0.0.1:8000")
    printed = capsys.readouterr().out
    secret = next(line.strip() for line in printed.splitlines() if line.strip().startswith("omn_"))
    assert "shown only this once" in printed and "API token" in printed
    assert first_admin_token(settings) is None  # there is one now
    announce_first_admin_token(settings, "http://127.0.0.1:8000")
    assert capsys.readouterr().out == ""
    assert secret


def test_graphiql_has_a_token_box_that_sends_the_token(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"}).text
    assert 'id="omniman-token"' in page and '"omniman.apiToken"' in page  # the box, kept in localStorage
    assert 'defaultHeaders["Authorization"] = "Bearer " + apiToken' in page  # on every HTTP request
    assert "wsConnectionParams: apiToken ? { Authorization: " in page  # and in the websocket connection_init
    assert "paste your API token into the" in page  # the quick start says where

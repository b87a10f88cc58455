"""Role × channel × operation, for every query and mutation: allowed exactly where the rules say, FORBIDDEN where the
role lacks the right, and an object on a channel outside a token's scope answered exactly as a missing one.
Without a valid token (none, garbage, revoked) every operation is UNAUTHENTICATED."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from omniman_gql.services.auth import Action, Role
from tests.fixtures.app import Api
from tests.graphql import create_token, gql

from .operations import OPERATIONS, Op, Vars, channels

ROLES = [Role.ADMIN, Role.STAFF, Role.CLIENT, Role.DISPLAY]
# The contract, written out here rather than read from the code under test: admin everything; staff every channel's
# sessions and orders, transitions, events, fulfillments; client open/modify/commit/resolve/abandon/import and read on
# its channels; display read (and subscribe) on its channels; prices and stock levels for every token; the customer
# directory (upsert, look up, search) for staff and admin only.
RIGHTS = {
    Role.ADMIN: set(Action),
    Role.STAFF: {Action.READ, Action.READ_CATALOG, Action.WRITE_SESSION, Action.MANAGE_ORDER,
                 Action.MANAGE_CUSTOMERS},
    Role.CLIENT: {Action.READ, Action.READ_CATALOG, Action.WRITE_SESSION},
    Role.DISPLAY: {Action.READ, Action.READ_CATALOG},
}
SCOPED = {Role.CLIENT, Role.DISPLAY}


def expected(role: Role, op: Op, in_scope: bool) -> str:
    """What the rules say: `allowed`, `forbidden` (the role may not do this at all) or `hidden`."""
    if op.action not in RIGHTS[role]:
        return "forbidden"
    if op.scoped and role in SCOPED and not in_scope:
        return "hidden"
    return "allowed"


def field_of(result: dict[str, Any], op: Op) -> Any:
    assert "errors" not in result, result
    return result["data"][op.name]


def normalised(result: dict[str, Any], pairs: list[tuple[str, str]]) -> str:
    """The response with the names of the caller's request replaced, to compare a hidden object's answer with a
    missing one's."""
    text = json.dumps(result, sort_keys=True)
    for value, placeholder in pairs:
        text = text.replace(value, placeholder)
    return text


def differing(a: Any, b: Any) -> list[tuple[str, str]]:
    """The string leaves where two variable sets differ (what names the object)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [pair for k in a for pair in differing(a[k], b.get(k))]
    if isinstance(a, list) and isinstance(b, list):
        return [pair for x, y in zip(a, b, strict=False) for pair in differing(x, y)]
    return [(a, b)] if isinstance(a, str) and isinstance(b, str) and a != b else []


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_role_on_every_channel(api: Api, client: TestClient, name: str) -> None:
    op = OPERATIONS[name]
    a, b = channels(api)
    tokens = {role: create_token(client, role.value, [a] if role in (Role.CLIENT, Role.DISPLAY) else [],
                                 name=f"{role.value}-1") for role in ROLES}
    for role in ROLES:
        for in_scope in ((True, False) if op.scoped else (True,)):
            channel = a if in_scope else b
            variables = op.arrange(api, channel)
            result = gql(client, op.document, variables, token=tokens[role])
            outcome = expected(role, op, in_scope)
            where = f"{op.name} as {role} on {'A' if in_scope else 'B'}: {result}"
            if outcome == "forbidden":
                assert result["data"] is None or result["data"].get(op.name) is None, where
                assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"], where
            elif outcome == "allowed":
                assert op.succeeded(field_of(result, op), variables), where
            else:
                assert_hidden(client, op, tokens[Role.STAFF], variables, result, where)


def assert_hidden(client: TestClient, op: Op, unscoped: str, variables: Vars, result: dict[str, Any],
                  where: str) -> None:
    """The scoped caller's answer equals the one a token that sees everything gets for something that does not
    exist (the service's own answer), but for the names in the request."""
    assert not op.succeeded(field_of(result, op), variables), where
    if op.missing is None:  # a list: the object is simply not in it
        return
    missing = op.missing(variables)
    pairs = differing(variables, missing)
    assert pairs, "the missing variant must name something else"
    answer = gql(client, op.document, missing, token=unscoped)
    assert normalised(result, [(h, "<name>") for h, _ in pairs]) == \
        normalised(answer, [(m, "<name>") for _, m in pairs]), f"{where} differs from a missing one: {answer}"


@pytest.mark.parametrize("credentials", ["none", "garbage", "malformed", "revoked"])
def test_without_a_valid_token_everything_is_unauthenticated(api: Api, client: TestClient, credentials: str) -> None:
    a, _b = channels(api)
    headers = {"none": {}, "garbage": {"Authorization": "Bearer omn_" + "x" * 43},
               "malformed": {"Authorization": "Basic YWRtaW46YWRtaW4="}}.get(credentials)
    if headers is None:
        secret = create_token(client, "admin", name="gone")
        token_id = gql(client, "query { tokens { id name } }")["data"]["tokens"][-1]["id"]
        assert gql(client, "mutation($id: ID!) { revokeToken(id: $id) { errors { code } } }",
                   {"id": token_id})["data"]["revokeToken"]["errors"] == []
        headers = {"Authorization": f"Bearer {secret}"}
    admin = client.headers.pop("Authorization")
    for op in OPERATIONS.values():
        client.headers["Authorization"] = admin
        variables = op.arrange(api, a)
        del client.headers["Authorization"]
        response = client.post("/graphql", json={"query": op.document, "variables": variables}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] is None or body["data"].get(op.name) in (None, []), (op.name, body)
        assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}, (op.name, body)
        message = body["errors"][0]["message"]
        assert ("No API token" in message) if credentials == "none" else ("unknown or revoked" in message), message

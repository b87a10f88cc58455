"""Helpers every API test uses: API tokens for a test client or a server, and a GraphQL call with a token."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.testclient import TestClient

from omniman_gql.runtime import Hub
from omniman_gql.services import auth
from omniman_gql.settings import Settings


def bearer(secret: str) -> dict[str, str]:
    """The HTTP header of a token."""
    return {"Authorization": f"Bearer {secret}"}


def unique_name(role: str) -> str:
    """A token name no live token has (names are unique among live tokens)."""
    return f"test-{role}-{uuid.uuid4().hex[:8]}"


def init_payload(secret: str) -> dict[str, str]:
    """The websocket `connection_init` payload of a token."""
    return {"Authorization": f"Bearer {secret}"}


def create_token(client: TestClient, role: str = "admin", channels: Sequence[str] = (),
                 name: str | None = None) -> str:
    """A new token, created through the running app's own Hub (the client must be entered); returns its secret."""
    hub: Hub = client.app_state["hub"]

    async def create() -> str:
        _row, secret = await auth.create_token(hub, name=name or unique_name(role), role=role, channels=channels)
        return secret

    assert client.portal is not None, "enter the TestClient (`with TestClient(app) as client`) first"
    return client.portal.call(create)


def authorize(client: TestClient, role: str = "admin", channels: Sequence[str] = (), name: str | None = None) -> str:
    """Make every later request of `client` carry a new token of `role`; returns its secret."""
    secret = create_token(client, role, channels, name)
    client.headers["Authorization"] = f"Bearer {secret}"
    return secret


async def new_token(hub: Hub, role: str = "admin", channels: Sequence[str] = (), name: str | None = None) -> str:
    """A new token through `hub` (async tests); returns its secret."""
    _row, secret = await auth.create_token(hub, name=name or unique_name(role), role=role, channels=channels)
    return secret


def create_token_in(settings: Settings, role: str = "admin", channels: Sequence[str] = (),
                    name: str | None = None) -> str:
    """A new token in the database of `settings`, from outside any app (servers in threads or processes)."""

    async def create() -> str:
        hub = Hub.create(settings)
        try:
            _row, secret = await auth.create_token(hub, name=name or unique_name(role), role=role, channels=channels)
            return secret
        finally:
            await hub.dispose()

    return asyncio.run(create())


def gql(client: TestClient, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
        expect_status: int = 200) -> dict[str, Any]:
    """POST one operation, with `token` (else the client's own headers); the response's JSON."""
    headers = bearer(token) if token is not None else None
    response = client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == expect_status, response.text
    return response.json()  # type: ignore[no-any-return]


async def revoke_silently(settings: Settings, token_id: int) -> None:
    """Revoke through a Hub of its own, without pub/sub: like `omniman token revoke` in another process, no Redis."""
    hub = Hub.create(settings)
    try:
        await auth.revoke_token(hub, token_id=token_id)
    finally:
        await hub.dispose()

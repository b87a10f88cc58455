"""API tokens: hashed storage, one-time secrets, roles and channel scopes, revocation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.models import ApiToken
from omniman_gql.runtime import Hub
from omniman_gql.services import auth

pytestmark = pytest.mark.anyio


async def test_token_is_stored_only_as_a_hash_and_authenticates(hub: Hub) -> None:
    row, secret = await auth.create_token(hub, name="till-1", role="client", channels=["pos"])
    async with hub.transaction(readonly=True) as uow:
        stored = (await uow.db.execute(select(ApiToken))).scalar_one()
    assert secret not in (stored.token_hash, stored.prefix) and stored.token_hash == auth.hash_token(secret)
    principal = await auth.authenticate(hub, secret)
    assert principal == auth.Principal(name="till-1", role=auth.Role.CLIENT, channels=frozenset({"pos"}),
                                       token_id=row.id)


async def test_unknown_or_malformed_tokens_do_not_authenticate(hub: Hub) -> None:
    await auth.create_token(hub, name="admin", role="admin")
    assert await auth.authenticate(hub, None) is None
    assert await auth.authenticate(hub, "omn_not-a-real-token") is None
    assert await auth.authenticate(hub, "x" * 5000) is None


async def test_revoked_token_stops_working_at_once(hub: Hub) -> None:
    row, secret = await auth.create_token(hub, name="kds", role="display", channels=["pos"])
    assert await auth.is_live(hub, row.id)
    await auth.revoke_token(hub, token_id=row.id)
    assert await auth.authenticate(hub, secret) is None
    assert not await auth.is_live(hub, row.id)
    assert [t.id for t in await auth.list_tokens(hub)] == []
    assert [t.id for t in await auth.list_tokens(hub, include_revoked=True)] == [row.id]


@pytest.mark.parametrize(("role", "channels", "field"), [
    ("owner", [], "role"),
    ("client", [], "channels"),
    ("display", [], "channels"),
    ("staff", ["pos"], "channels"),
])
async def test_create_token_rejects_bad_role_or_scope(hub: Hub, role: str, channels: list[str], field: str) -> None:
    with pytest.raises(OmnimanError) as caught:
        await auth.create_token(hub, name="t", role=role, channels=channels)
    assert caught.value.code == ErrorCode.INVALID_INPUT and caught.value.field == (field,)


async def test_revoking_an_unknown_token_is_not_found(hub: Hub) -> None:
    with pytest.raises(OmnimanError) as caught:
        await auth.revoke_token(hub, token_id=999)
    assert caught.value.code == ErrorCode.NOT_FOUND


def test_roles_grant_exactly_their_actions() -> None:
    admin = auth.Principal("a", auth.Role.ADMIN, None)
    staff = auth.Principal("s", auth.Role.STAFF, None)
    client = auth.Principal("c", auth.Role.CLIENT, frozenset({"pos"}))
    display = auth.Principal("d", auth.Role.DISPLAY, frozenset({"pos"}))
    assert all(admin.can(a) for a in auth.Action)
    assert not staff.can(auth.Action.ADMIN) and staff.can(auth.Action.MANAGE_ORDER)
    assert client.can(auth.Action.WRITE_SESSION) and not client.can(auth.Action.MANAGE_ORDER)
    assert display.can(auth.Action.READ) and not display.can(auth.Action.WRITE_SESSION)
    assert client.sees("pos") and not client.sees("ifood") and staff.sees("ifood")
    assert client.visible(None) == ["pos"] and client.visible(["pos", "ifood"]) == ["pos"]
    assert staff.visible(None) is None


def test_bearer_header_parsing() -> None:
    assert auth.bearer_secret("Bearer omn_abc") == "omn_abc"
    assert auth.bearer_secret("bearer   omn_abc ") == "omn_abc"
    assert auth.bearer_secret("Basic abc") is None
    assert auth.bearer_secret("Bearer") is None
    assert auth.bearer_secret(None) is None

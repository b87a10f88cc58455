"""API tokens: hashed storage, one-time secrets, roles and channel scopes, revocation."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import select

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.models import ApiToken
from omniman_gql.runtime import Hub
from omniman_gql.services import auth
from omniman_gql.settings import Settings
from tests.factories import make_channel
from tests.services.support import raises

pytestmark = pytest.mark.anyio


async def test_token_is_stored_only_as_a_hash_and_authenticates(hub: Hub) -> None:
    await make_channel(hub, "pos")
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
    await make_channel(hub, "pos")
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


async def test_error_token_name_taken_among_live_tokens_only(hub: Hub) -> None:
    first, _ = await auth.create_token(hub, name="kitchen", role="admin")

    error = await raises(ErrorCode.TOKEN_NAME_TAKEN, auth.create_token(hub, name="kitchen", role="staff"))
    await auth.revoke_token(hub, token_id=first.id or 0)
    again, _ = await auth.create_token(hub, name="kitchen", role="staff")  # the revoked one keeps its name

    assert (error.field, error.context) == (("name",), {"name": "kitchen"})
    assert again.name == "kitchen" and again.id != first.id


async def test_concurrent_creations_of_one_name_make_one_token(settings: Settings) -> None:
    hubs = [Hub.create(settings) for _ in range(4)]
    outcomes: list[str] = []

    async def create(hub: Hub) -> None:
        try:
            await auth.create_token(hub, name="till", role="admin")
            outcomes.append("created")
        except OmnimanError as exc:
            outcomes.append(exc.code.value)

    try:
        async with anyio.create_task_group() as tg:
            for hub in hubs:
                tg.start_soon(create, hub)
        live = [t.name for t in await auth.list_tokens(hubs[0])]
    finally:
        for hub in hubs:
            await hub.dispose()
    assert sorted(outcomes) == ["created"] + ["token_name_taken"] * 3
    assert live == ["till"]


async def test_error_channel_not_found_for_a_new_token(hub: Hub) -> None:
    await make_channel(hub, "pos")

    error = await raises(ErrorCode.CHANNEL_NOT_FOUND,
                         auth.create_token(hub, name="kds", role="display", channels=["pos", "nowhere"]))

    assert (error.field, error.context) == (("channels", 1), {"missing": ["nowhere"]})
    assert await auth.list_tokens(hub) == []

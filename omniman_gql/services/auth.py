"""API tokens and who may do what: create/list/revoke tokens, authenticate a bearer token, authorize an action."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeGuard

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from ..domain.limits import check_string
from ..errors import ErrorCode, OmnimanError
from ..models import ApiToken, Channel, table_of, utcnow
from ..runtime import Hub

TOKEN_PREFIX = "omn_"
MAX_TOKEN_CHANNELS = 100  # a scope is a short list of channels, never a data dump


class Role(StrEnum):
    ADMIN = "admin"  # everything: channels, tokens, directives, prices and stock
    STAFF = "staff"  # every channel's sessions and orders, status transitions
    CLIENT = "client"  # open/modify/commit and read, on its channels only
    DISPLAY = "display"  # read and subscribe, on its channels only


class Action(StrEnum):
    READ = "read"  # sessions, orders, and their streams
    WRITE_SESSION = "write_session"  # open, modify, resolve, commit, abandon, import
    MANAGE_ORDER = "manage_order"  # transitions, custom events, fulfillments
    READ_CATALOG = "read_catalog"  # prices and stock levels
    MANAGE_CUSTOMERS = "manage_customers"  # the customer directory: upsert, look up, search
    ADMIN = "admin"  # channels, tokens, directives, prices and stock levels


ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.STAFF: frozenset({Action.READ, Action.WRITE_SESSION, Action.MANAGE_ORDER, Action.READ_CATALOG,
                           Action.MANAGE_CUSTOMERS}),
    Role.CLIENT: frozenset({Action.READ, Action.WRITE_SESSION, Action.READ_CATALOG}),
    Role.DISPLAY: frozenset({Action.READ, Action.READ_CATALOG}),
}
SCOPED_ROLES = frozenset({Role.CLIENT, Role.DISPLAY})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name (recorded as the actor on events), role and channel scope."""

    name: str
    role: Role
    channels: frozenset[str] | None  # None: every channel
    token_id: int | None = None

    def can(self, action: Action) -> bool:
        return action in ROLE_ACTIONS[self.role]

    def sees(self, channel_code: str) -> bool:
        return self.channels is None or channel_code in self.channels

    def visible(self, channel_codes: Iterable[str] | None) -> list[str] | None:
        """The channels a list may show: the asked ones within scope (None = no restriction at all)."""
        if channel_codes is None:
            return None if self.channels is None else sorted(self.channels)
        return [c for c in channel_codes if self.sees(c)]


SYSTEM = Principal(name="system", role=Role.ADMIN, channels=None)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(
    hub: Hub, *, name: str, role: str, channels: Sequence[str] = ()
) -> tuple[ApiToken, str]:
    """Create a token; the secret is returned once and only its hash is stored.

    Errors: invalid_input (unknown role, missing or needless channels, bad name), token_name_taken (a live token
    has the name), channel_not_found (a listed channel does not exist).
    """
    limits = hub.registry.limits
    name = check_string(name, limits, field=("name",), code=ErrorCode.INVALID_INPUT, what="A token's name")
    try:
        role_ = Role(role)
    except ValueError:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"Unknown role {role!r}; use one of {', '.join(Role)}.",
                           field=("role",), context={"roles": list(Role)}) from None
    if len(channels) > MAX_TOKEN_CHANNELS:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"A token lists at most {MAX_TOKEN_CHANNELS} channels.",
                           field=("channels",), context={"max_channels": MAX_TOKEN_CHANNELS})
    scope = sorted({check_string(c, limits, field=("channels", i), code=ErrorCode.INVALID_INPUT, what="A channel")
                    for i, c in enumerate(channels)})
    if role_ in SCOPED_ROLES and not scope:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"A {role_} token needs at least one channel.", field=("channels",))
    if role_ not in SCOPED_ROLES and scope:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"A {role_} token sees every channel; give no channels.",
                           field=("channels",))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        async with hub.transaction() as uow:
            await _check_new_token(uow.db, name, scope, list(channels))
            row = ApiToken(name=name, role=role_.value, channels=scope, token_hash=hash_token(secret),
                           prefix=secret[: len(TOKEN_PREFIX) + 6])
            uow.db.add(row)
            await uow.db.flush()
    except IntegrityError:
        # A concurrent creation took the name first: the partial unique index on live names decided.
        raise _name_taken(name) from None
    return row, secret


def _name_taken(name: str) -> OmnimanError:
    return OmnimanError(ErrorCode.TOKEN_NAME_TAKEN, f"A live token is already named {name!r}; names are the actor "
                        "on events, so each live token has its own (revoke the old one, or pick another name).",
                        field=("name",), context={"name": name})


async def _check_new_token(db: Any, name: str, scope: list[str], given: list[str]) -> None:
    """Errors: token_name_taken (a live token has the name), channel_not_found (a channel that does not exist)."""
    taken = (await db.execute(select(col(ApiToken.id)).where(
        col(ApiToken.name) == name, col(ApiToken.revoked_at).is_(None)).limit(1))).scalar_one_or_none()
    if taken is not None:
        raise _name_taken(name)
    if scope:
        known = set((await db.execute(select(col(Channel.code)).where(col(Channel.code).in_(scope)))).scalars())
        missing = [code for code in scope if code not in known]
        if missing:
            index = next((i for i, c in enumerate(given) if isinstance(c, str) and c.strip() == missing[0]), 0)
            raise OmnimanError(ErrorCode.CHANNEL_NOT_FOUND, f"No channel {', '.join(map(repr, missing))}: a token "
                               "can only list channels that exist.", field=("channels", index),
                               context={"missing": missing})


async def list_tokens(hub: Hub, *, include_revoked: bool = False) -> list[ApiToken]:
    async with hub.transaction(readonly=True) as uow:
        query = select(ApiToken).order_by(col(ApiToken.id))
        if not include_revoked:
            query = query.where(col(ApiToken.revoked_at).is_(None))
        return list((await uow.db.execute(query)).scalars())


async def token_by_id(hub: Hub, token_id: int) -> ApiToken | None:
    """One token (revoked or not) by id; None if there is none."""
    async with hub.transaction(readonly=True) as uow:
        return (await uow.db.execute(select(ApiToken).where(col(ApiToken.id) == token_id))).scalar_one_or_none()


async def revoke_token(hub: Hub, *, token_id: int) -> ApiToken:
    """Revoke a token at once. Errors: not_found."""
    async with hub.transaction() as uow:
        row = (await uow.db.execute(select(ApiToken).where(col(ApiToken.id) == token_id))).scalar_one_or_none()
        if row is None:
            raise OmnimanError(ErrorCode.NOT_FOUND, f"No token {token_id}.", field=("id",))
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            await uow.db.flush()
        uow.publish("tokens", {"revoked": row.id})
    return row


async def count_tokens(hub: Hub) -> int:
    async with hub.transaction(readonly=True) as uow:
        return int((await uow.db.execute(select(func.count()).select_from(ApiToken))).scalar_one())


_TOKENS = table_of(ApiToken)
_LIVE_TOKEN = (select(_TOKENS.c.id, _TOKENS.c.name, _TOKENS.c.role, _TOKENS.c.channels)
               .where(_TOKENS.c.token_hash == bindparam("token_hash"), _TOKENS.c.revoked_at.is_(None)))


def plausible(secret: str | None) -> TypeGuard[str]:
    """Whether `secret` looks like one of our tokens at all (anything else is refused without a lookup)."""
    return bool(secret and secret.startswith(TOKEN_PREFIX) and len(secret) <= 200)


async def authenticate(hub: Hub, secret: str | None) -> Principal | None:
    """The principal of a live token, or None for a missing, unknown or revoked one."""
    if not plausible(secret):
        return None
    return await principal_by_hash(hub, hash_token(secret))


async def principal_by_hash(hub: Hub, token_hash: str) -> Principal | None:
    """The principal of the live token with this hash, or None."""
    async with hub.transaction(readonly=True) as uow:  # every request: Core, no ORM session
        row = (await uow.execute(_LIVE_TOKEN, {"token_hash": token_hash})).one_or_none()
    if row is None:
        return None
    role = Role(row.role)
    return Principal(name=row.name, role=role, channels=frozenset(row.channels) if role in SCOPED_ROLES else None,
                     token_id=row.id)


async def is_live(hub: Hub, token_id: int) -> bool:
    """Whether a token is still unrevoked (open websockets re-check this)."""
    async with hub.transaction(readonly=True) as uow:
        revoked = (await uow.db.execute(
            select(col(ApiToken.revoked_at)).where(col(ApiToken.id) == token_id))).one_or_none()
    return revoked is not None and revoked[0] is None


async def revoked_among(hub: Hub, token_ids: Iterable[int]) -> set[int]:
    """Which of `token_ids` are revoked or gone (one query, however many open websockets ask)."""
    wanted = set(token_ids)
    if not wanted:
        return set()
    async with hub.transaction(readonly=True) as uow:
        live = set((await uow.db.execute(select(col(ApiToken.id)).where(
            col(ApiToken.id).in_(wanted), col(ApiToken.revoked_at).is_(None)
        ))).scalars())
    return wanted - live


def bearer_secret(header: str | None) -> str | None:
    """`Bearer <token>` → `<token>` (the scheme is case-insensitive)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None

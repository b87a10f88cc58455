"""Use case: create or update a channel (policies, currency, config)."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from ..domain.channel_config import POLICIES, check_config_wiring, merge_patch, validate_channel_config
from ..domain.limits import check_json
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import Channel, ChannelRevision, table_of, utcnow
from ..runtime import Hub
from ..uow import UnitOfWork

_MISSING: Any = object()
# What a channel revision records: every setting an operator can change (the code names the channel, it never changes).
SETTINGS = ("name", "pricing_policy", "edit_policy", "currency", "display_order", "is_active", "config")


def channel_settings(channel: Channel) -> dict[str, Any]:
    """The channel's settings and config as plain JSON (a copy: later edits of the row do not reach it)."""
    return {key: copy.deepcopy(getattr(channel, key)) for key in SETTINGS}


def validate_config(hub: Hub, config: Any) -> dict[str, Any]:
    """A whole config: known keys of the right shape, and every topic, status and notifier it names exists.

    Errors: invalid_config (several at once as ValidationFailed)."""
    checked = validate_channel_config(config)
    errors = check_config_wiring(checked, topics=hub.registry.handlers, notifiers=hub.registry.notifiers)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    return checked


def _check_fields(hub: Hub, fields: dict[str, Any], *, patch: bool = False) -> dict[str, Any]:
    errors: list[OmnimanError] = []
    limit = hub.registry.limits.max_string_length
    for key, allowed in POLICIES.items():
        value = fields.get(key)
        if value is not None and value not in allowed:
            errors.append(OmnimanError(ErrorCode.INVALID_INPUT, f"`{key}` must be one of {', '.join(allowed)}.",
                                       field=(key,), context={"allowed": list(allowed)}))
    currency = fields.get("currency")
    if currency is not None and not (isinstance(currency, str) and len(currency) == 3 and currency.isascii()
                                     and currency.isalpha() and currency.isupper()):
        errors.append(OmnimanError(ErrorCode.INVALID_INPUT, "`currency` must be an ISO 4217 code such as BRL.",
                                   field=("currency",)))
    name = fields.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > limit):
        errors.append(OmnimanError(ErrorCode.INVALID_INPUT, f"`name` must be 1 to {limit} characters.",
                                   field=("name",)))
    order = fields.get("display_order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int)
                              or not -1_000_000 <= order <= 1_000_000):
        errors.append(OmnimanError(ErrorCode.INVALID_INPUT, "`display_order` must be an integer within ±1,000,000.",
                                   field=("display_order",)))
    if fields.get("is_active") is not None and not isinstance(fields["is_active"], bool):
        errors.append(OmnimanError(ErrorCode.INVALID_INPUT, "`is_active` must be true or false.",
                                   field=("is_active",)))
    if fields.get("config") is not None:
        try:
            check_json(fields["config"], hub.registry.limits, field=("config",), what="`config`")
            if not patch:
                validate_config(hub, fields["config"])
            elif not isinstance(fields["config"], dict):
                raise OmnimanError(ErrorCode.INVALID_CONFIG, "config must be a JSON object (a merge patch).",
                                   field=("config",))
        except OmnimanError as exc:
            errors.extend(exc.errors())
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    return fields


def _check_code(code: Any, limit: int) -> str:
    if not isinstance(code, str) or not code or len(code) > min(limit, 64) or not all(
        c.isalnum() or c in "-_" for c in code
    ):
        raise OmnimanError(ErrorCode.INVALID_INPUT,
                           "`code` must be a slug of letters, digits, `-` and `_` (at most 64 characters).",
                           field=("code",))
    return code


async def upsert_channel(
    hub: Hub,
    *,
    code: str,
    name: str | None = None,
    pricing_policy: str | None = None,
    edit_policy: str | None = None,
    currency: str | None = None,
    display_order: int | None = None,
    is_active: bool | None = None,
    config: dict[str, Any] | None = None,
    actor: str = "system",
) -> tuple[Channel, bool]:
    """Create the channel `code`, or update the fields given. `config` is a JSON merge patch (RFC 7396) of the stored
    config: keys given replace those keys, `null` removes one, keys not given stay. Returns (channel, created).

    A change is recorded in the channel's history under `actor` (see `save_channel`).

    Errors: invalid_input (bad code, policy, currency, name), invalid_config (unknown or malformed config keys; a
    topic without a handler, an `on_status` key not in the flow, an unknown notifier — checked on the result).
    """
    fields = check_channel(hub, code=code, name=name, pricing_policy=pricing_policy, edit_policy=edit_policy,
                           currency=currency, display_order=display_order, is_active=is_active, config=config,
                           patch=True)
    async with hub.transaction() as uow:
        return await save_channel(uow, hub, code=code, fields=fields, merge=True, actor=actor)


def check_channel(hub: Hub, *, code: Any, patch: bool = False, **given: Any) -> dict[str, Any]:
    """Validate a channel's code and the fields given (None = leave as is); returns the fields to write. `patch`:
    `config` is a merge patch, validated once applied (by `save_channel`).

    Errors: invalid_input, invalid_config (as upsert_channel; several at once as ValidationFailed).
    """
    _check_code(code, hub.registry.limits.max_string_length)
    return _check_fields(hub, {k: v for k, v in given.items() if v is not None}, patch=patch)


async def save_channel(uow: UnitOfWork, hub: Hub, *, code: str, fields: dict[str, Any],
                       merge: bool = False, actor: str = "system") -> tuple[Channel, bool]:
    """Write checked fields (from `check_channel`) inside the caller's transaction. Returns (channel, created).
    `merge`: `fields["config"]` is a merge patch of the stored config, and the result is validated here (raising
    rolls the caller's transaction back, a channel just inserted with it included). A creation or a change of any
    setting adds a `ChannelRevision` (who, when, before, after) in the same transaction; a no-op adds none."""
    patch = fields.get("config") if merge else None
    if merge and patch is not None:
        fields = {**fields, "config": merge_patch({}, patch)}
    # Insert-or-nothing first, so two concurrent creations of one code meet on the unique constraint instead of
    # one of them failing; then lock the row and apply the fields given.
    now = utcnow()
    fresh = Channel(code=code, name=fields.get("name", code),
                    currency=fields.get("currency", hub.settings.default_currency), created_at=now, updated_at=now,
                    **{k: v for k, v in fields.items() if k not in ("name", "currency")})
    values = {c: getattr(fresh, c) for c in Channel.model_fields if c != "id"}
    inserted = await uow.rows.insert_new(table_of(Channel), values)
    channel = (await uow.db.execute(
        select(Channel).where(col(Channel.code) == code).with_for_update())).scalar_one()
    before = {} if inserted is not None else channel_settings(channel)
    if inserted is None:
        for key, value in fields.items():
            setattr(channel, key, merge_patch(channel.config, patch) if key == "config" and merge else value)
        channel.updated_at = now
        await uow.db.flush()
    if merge and patch is not None:
        validate_config(hub, channel.config)
    after = channel_settings(channel)
    if after != before:
        uow.db.add(ChannelRevision(channel_code=code, actor=actor[:200], before=before, after=after, at=now))
        await uow.db.flush()
    return channel, inserted is not None


async def list_channels(hub: Hub) -> list[Channel]:
    """Every channel, by display order then code."""
    async with hub.transaction(readonly=True) as uow:
        return list((await uow.db.execute(
            select(Channel).order_by(col(Channel.display_order), col(Channel.code)))).scalars())

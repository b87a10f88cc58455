"""Use cases of refs: ref types, attach, detach and resolve; what commit, abandon and new orders do to refs."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import select, update

from ..domain.refs import (
    SHIPPED,
    RefTypeSpec,
    merged_types,
    normalize_value,
    parse_ref_types,
    scope_key,
    ticket_of,
    ticket_value,
)
from ..errors import ErrorCode, OmnimanError
from ..models import Order, Ref, RefType, TicketCounter, table_of, utcnow
from ..models.ref import closing_refs
from ..runtime import Hub
from ..uow import UnitOfWork
from .common import order_not_found, read_channel, session_not_found

REFS = table_of(Ref)
TYPES = table_of(RefType)
COUNTERS = table_of(TicketCounter)
ORDERS = table_of(Order)
MAX_KEYS = 1000
ATTACH_TRIES = 3


@lru_cache(maxsize=4)
def _settings_types(doc: str | None) -> tuple[RefTypeSpec, ...]:
    return tuple(parse_ref_types(json.loads(doc))) if doc else ()


async def ref_types(hub: Hub, uow: UnitOfWork) -> dict[str, RefTypeSpec]:
    """Every ref type by code: the shipped ones, replaced by those of settings, replaced by those applied."""
    applied = (await uow.execute(select(TYPES).order_by(TYPES.c.code))).all()
    return merged_types(SHIPPED, _settings_types(hub.settings.ref_types), (
        RefTypeSpec(row.code, row.label, row.target, row.scope, row.copy_to_order, row.expires_on_close)
        for row in applied))


async def list_ref_types(hub: Hub) -> list[RefTypeSpec]:
    async with hub.transaction(readonly=True) as uow:
        return sorted((await ref_types(hub, uow)).values(), key=lambda spec: spec.code)


async def apply_ref_types(hub: Hub, docs: Any) -> list[RefTypeSpec]:
    """Create or replace the listed ref types, all or nothing (errors: invalid_input naming each bad key)."""
    specs = parse_ref_types(docs)
    now = utcnow()
    async with hub.transaction() as uow:
        codes = [spec.code for spec in specs]
        if codes:
            await uow.execute(TYPES.delete().where(TYPES.c.code.in_(codes)))
            await uow.execute(TYPES.insert(), [{**spec.as_dict(), "updated_at": now} for spec in specs])
    return specs


def _type_of(types: dict[str, RefTypeSpec], code: str) -> RefTypeSpec:
    spec = types.get(code)
    if spec is None:
        raise OmnimanError(ErrorCode.INVALID_REF_TYPE, f"No ref type {code!r}.", field=("type",),
                           context={"type": code, "valid": sorted(types)})
    return spec


def _taken(row: Any) -> OmnimanError:
    holder = {"holder": "order", "order_ref": row.order_ref} if row.order_ref else {
        "holder": "session", "session_key": row.session_key}
    named = f"order {row.order_ref}" if row.order_ref else f"session {row.session_key}"
    return OmnimanError(ErrorCode.REF_TAKEN, f"{row.ref_type} {row.value} is held by {named}.", field=("value",),
                        context={"type": row.ref_type, "value": row.value, **holder})


def _active(channel_code: str, type_code: str, scope: str, value: str) -> Any:
    return select(REFS).where(REFS.c.channel_code == channel_code, REFS.c.ref_type == type_code,
                              REFS.c.scope_key == scope, REFS.c.value == value, REFS.c.is_active)


async def attach_ref(hub: Hub, *, channel_code: str, type_code: str, value: str, session_key: str | None = None,
                     order_ref: str | None = None) -> Any:
    """Attach (type, value) to an open session or to an order of the channel; the unique index decides between
    concurrent attaches. Attaching what the target holds already answers its ref.

    Errors: invalid_input, invalid_ref_type, invalid_ref_target, not_found, ref_taken (context: the holder),
    in_progress (the value was freed and taken again while this ran, three times over)."""
    if (session_key is None) == (order_ref is None):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "Give exactly one target: `sessionKey` or `orderRef`.",
                           field=("session_key",))
    value = normalize_value(value)
    kind = "session" if session_key is not None else "order"
    async with hub.transaction() as uow:
        spec = _type_of(await ref_types(hub, uow), type_code)
        if not spec.allows(kind):
            raise OmnimanError(ErrorCode.INVALID_REF_TARGET, f"A {spec.code} ref is held by {spec.target}s, not by "
                               f"{kind}s.", field=("session_key" if kind == "session" else "order_ref",),
                               context={"type": spec.code, "target": spec.target})
        if session_key is not None:
            # Locked, as commit locks it: a ref never lands on a session that has just closed.
            found = await uow.sessions.read(channel_code, session_key, lock=True)
            if found is None:
                await read_channel(uow, channel_code)
                raise session_not_found(channel_code, session_key)
            session, channel = found
            if session.state != "open":
                raise OmnimanError(ErrorCode.INVALID_REF_TARGET, f"Session {session_key!r} is {session.state}; refs "
                                   "are attached to open sessions.", field=("session_key",),
                                   context={"session_key": session_key, "state": session.state})
            config = channel.config
        else:
            config = (await read_channel(uow, channel_code)).config
            holder = (await uow.execute(select(ORDERS.c.id).where(
                ORDERS.c.ref == order_ref, ORDERS.c.channel_code == channel_code))).first()
            if holder is None:
                raise order_not_found(str(order_ref))
        now = utcnow()
        scope = scope_key(spec, config, now, hub.settings.timezone)
        values = {"channel_code": channel_code, "ref_type": spec.code, "value": value, "scope_key": scope,
                  "session_key": session_key, "order_ref": order_ref, "copy_to_order": spec.copy_to_order,
                  "expires_on_close": spec.expires_on_close, "is_active": True, "created_at": now,
                  "deactivated_at": None}
        for _ in range(ATTACH_TRIES):
            new_id = await uow.rows.insert_new(REFS, values)
            if new_id is not None:
                return (await uow.execute(select(REFS).where(REFS.c.id == new_id))).one()
            # The index holds the value: name its holder. (One that ended between the two statements has freed it:
            # try again.)
            row = (await uow.execute(_active(channel_code, spec.code, scope, value))).first()
            if row is None:
                continue
            if (session_key is not None and row.session_key == session_key and row.order_ref is None) or (
                    order_ref is not None and row.order_ref == order_ref):
                return row
            raise _taken(row)
        raise OmnimanError(ErrorCode.IN_PROGRESS, f"{spec.code} {value} is changing hands; try again shortly.",
                           field=("value",), context={"type": spec.code, "value": value})


async def detach_ref(hub: Hub, *, channel_code: str, type_code: str, value: str) -> Any:
    """Deactivate the active ref (type, value) of the channel's current scope; the value is free again.

    Errors: invalid_input, invalid_ref_type, not_found."""
    value = normalize_value(value)
    async with hub.transaction() as uow:
        spec = _type_of(await ref_types(hub, uow), type_code)
        channel = await read_channel(uow, channel_code)
        scope = scope_key(spec, channel.config, utcnow(), hub.settings.timezone)
        row = (await uow.execute(_active(channel_code, spec.code, scope, value).with_for_update())).first()
        if row is None:
            raise OmnimanError(ErrorCode.NOT_FOUND, f"No active {spec.code} {value} in channel {channel_code!r}.",
                               field=("value",), context={"type": spec.code, "value": value})
        return (await uow.execute(update(REFS).where(REFS.c.id == row.id).values(
            is_active=False, deactivated_at=utcnow()).returning(*REFS.c))).one()


async def resolve_ref(hub: Hub, *, channel_code: str, type_code: str, value: str) -> Any:
    """The active ref (type, value) of the channel's current scope, or None: it never creates anything.

    Errors: invalid_input, invalid_ref_type, not_found (the channel)."""
    value = normalize_value(value)
    async with hub.transaction(readonly=True) as uow:
        spec = _type_of(await ref_types(hub, uow), type_code)
        channel = await read_channel(uow, channel_code)
        scope = scope_key(spec, channel.config, utcnow(), hub.settings.timezone)
        return (await uow.execute(_active(channel_code, spec.code, scope, value))).first()


async def refs_for_sessions(hub: Hub, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[Any]]:
    """Every ref ever attached to each session (channel_code, session_key), oldest first."""
    wanted = list(set(keys))[:MAX_KEYS]
    out: dict[tuple[str, str], list[Any]] = {}
    async with hub.transaction(readonly=True) as uow:
        for channel_code in {key[0] for key in wanted}:
            rows = (await uow.execute(select(REFS).where(REFS.c.channel_code == channel_code, REFS.c.session_key.in_(
                [key[1] for key in wanted if key[0] == channel_code])).order_by(REFS.c.id))).all()
            for row in rows:
                out.setdefault((row.channel_code, row.session_key), []).append(row)
    return out


async def refs_for_orders(hub: Hub, order_refs: Sequence[str]) -> dict[str, list[Any]]:
    """Every ref each order holds or held, oldest first."""
    out: dict[str, list[Any]] = {}
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.execute(select(REFS).where(REFS.c.order_ref.in_(list(set(order_refs))[:MAX_KEYS]))
                                  .order_by(REFS.c.id))).all()
    for row in rows:
        out.setdefault(row.order_ref, []).append(row)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# lifecycle: inside the commit's, the abandon's or the import's own transaction


async def next_ticket(uow: UnitOfWork, channel: Any, now: dt.datetime, timezone: str) -> tuple[str, str, str] | None:
    """The channel's next ticket (ref type, value, business day), or None when it gives none: the day's counter
    incremented in this transaction (its row stays locked until COMMIT, so numbers are gap-free and unique)."""
    ticket = ticket_of(channel.config)
    if ticket is None:
        return None
    ref_type, width = ticket
    day = scope_key(RefTypeSpec(ref_type, ref_type, "order", "business_day"), channel.config, now, timezone)
    number = await uow.rows.increment(COUNTERS, {"channel_code": channel.code, "business_day": day}, "last")
    return ref_type, ticket_value(number, width), day


async def add_order_refs(uow: UnitOfWork, *, channel_code: str, order_ref: str, ticket: tuple[str, str, str] | None,
                         external_ref: str | None, now: dt.datetime) -> None:
    """A new order's own refs: its ticket, and an imported order's EXTERNAL ref (one INSERT; a value some order
    holds already, attached by hand, is left to it rather than failing the order)."""
    base = {"channel_code": channel_code, "session_key": None, "order_ref": order_ref, "copy_to_order": False,
            "expires_on_close": False, "is_active": True, "created_at": now, "deactivated_at": None}
    rows = []
    if ticket is not None:
        rows.append({**base, "ref_type": ticket[0], "value": ticket[1], "scope_key": ticket[2]})
    if external_ref:
        rows.append({**base, "ref_type": "EXTERNAL", "value": external_ref.strip().upper()[:200], "scope_key": ""})
    await uow.rows.insert_missing(REFS, rows)


_ABANDONING = closing_refs(to_order=False)


async def end_session_refs(uow: UnitOfWork, *, channel_code: str, session_key: str, now: dt.datetime) -> None:
    """An abandoned session's `copy_to_order` and `expires_on_close` refs end (commit moves or ends them with the
    order's own statements: see OrderStatements.create). One UPDATE."""
    await uow.execute(_ABANDONING, {"o_channel_code": channel_code, "o_session_key": session_key, "r_now": now})

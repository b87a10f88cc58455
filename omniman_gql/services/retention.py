"""Use cases of retention (concepts.md §17): purge idempotency keys, `done` directives and abandoned sessions past
their retention, in batches; abandon open sessions idle past their channel's `session_idle_ttl_minutes`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import col

from ..models import Channel, Directive, IdempotencyKey, Session, utcnow
from ..runtime import Hub
from .common import lock_session
from .sessions import abandon_locked

KINDS = ("idempotency_keys", "directives", "sessions")
IDLE_KEY = "session_idle_ttl_minutes"


@dataclass(frozen=True)
class _Rule:
    model: Any
    where: tuple[Any, ...]


def _rules(hub: Hub, now: dt.datetime) -> dict[str, _Rule]:
    """What each kind purges at `now`. `failed` directives are kept (an operator retries or removes them); a
    replayed commit whose key is gone is answered from its committed session, so keys may go."""
    settings = hub.settings
    return {
        "idempotency_keys": _Rule(IdempotencyKey, (
            col(IdempotencyKey.created_at) < now - settings.idempotency_key_ttl,)),
        "directives": _Rule(Directive, (
            col(Directive.status) == "done", col(Directive.updated_at) < now - settings.directive_retention)),
        "sessions": _Rule(Session, (
            col(Session.state) == "abandoned", col(Session.updated_at) < now - settings.session_retention)),
    }


async def purge(hub: Hub, *, now: dt.datetime | None = None, dry_run: bool = False,
                batch: int | None = None) -> dict[str, int]:
    """Delete (or, `dry_run`, count) what is past its retention at `now`, per kind. Each transaction deletes at most
    `batch` rows (`retention_batch`), so a purge of a million rows never holds its locks long; rows that come past
    their retention while it runs may be purged too."""
    now = now or utcnow()
    batch = batch or hub.settings.retention_batch
    counts: dict[str, int] = {}
    for kind, rule in _rules(hub, now).items():
        if dry_run:
            async with hub.transaction(readonly=True) as uow:
                counts[kind] = int((await uow.db.execute(
                    select(func.count()).select_from(rule.model).where(*rule.where))).scalar_one())
            continue
        counts[kind] = 0
        while True:
            async with hub.transaction() as uow:
                ids = list((await uow.db.execute(select(rule.model.id).where(*rule.where)
                                                 .order_by(rule.model.id).limit(batch))).scalars())
                if ids:
                    await uow.db.execute(delete(rule.model).where(col(rule.model.id).in_(ids))
                                         .execution_options(synchronize_session=False))
            counts[kind] += len(ids)
            if len(ids) < batch:
                break
    return counts


async def abandon_idle_sessions(hub: Hub, *, now: dt.datetime | None = None, batch: int | None = None,
                                max_batches: int = 20) -> list[tuple[str, str]]:
    """Abandon the open sessions of channels with `config.session_idle_ttl_minutes` not changed for longer than
    that, as `abandonSession` does (holds released, `sessionChanged` announced), one transaction each; returns their
    (channel, session key). A session changed meanwhile is left open. Channels without the key are never looked at."""
    now = now or utcnow()
    batch = batch or hub.settings.retention_batch
    async with hub.transaction(readonly=True) as uow:
        channels = (await uow.db.execute(select(col(Channel.code), col(Channel.config)))).all()
    abandoned: list[tuple[str, str]] = []
    for code, config in channels:
        ttl = (config or {}).get(IDLE_KEY)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
            continue
        cutoff = now - dt.timedelta(minutes=ttl)
        after = 0
        for _ in range(max_batches):  # keyset pages: the next pass of the sweeper goes on where this one stopped
            async with hub.transaction(readonly=True) as uow:
                idle = (await uow.db.execute(
                    select(col(Session.id), col(Session.session_key))
                    .where(col(Session.channel_code) == code, col(Session.state) == "open",
                           col(Session.updated_at) < cutoff, col(Session.id) > after)
                    .order_by(col(Session.id)).limit(batch))).all()
            for session_id, key in idle:
                after = session_id or after  # (a listed row always has an id)
                if await _abandon_if_idle(hub, code, key, cutoff):
                    abandoned.append((code, key))
            if len(idle) < batch:
                break
    return abandoned


async def _abandon_if_idle(hub: Hub, channel_code: str, session_key: str, cutoff: dt.datetime) -> bool:
    async with hub.transaction() as uow:
        session, channel = await lock_session(uow.db, channel_code, session_key)
        if session.state != "open" or session.updated_at >= cutoff:
            return False  # committed, abandoned or changed since it was listed
        await abandon_locked(uow, session, channel)
    return True

"""Plain factory functions for tests: channels, sessions with lines, committed orders."""

from __future__ import annotations

import uuid
from typing import Any

from omniman_gql.models import Order, Session
from omniman_gql.runtime import Hub
from omniman_gql.services import channels, commit, sessions


def unique_code(prefix: str = "pos") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def make_channel(hub: Hub, code: str | None = None, **fields: Any) -> str:
    code = code or unique_code()
    await channels.upsert_channel(hub, code=code, name=fields.pop("name", code.upper()), **fields)
    return code


async def open_with_items(
    hub: Hub, channel_code: str, lines: list[tuple[str, str, int | None]], *, session_key: str | None = None
) -> Session:
    """Open a session and add `(sku, qty, unit_price_q)` lines in one modify."""
    session, _ = await sessions.open_session(hub, channel_code=channel_code, session_key=session_key)
    ops = [{"op": "add_line", "sku": sku, "qty": qty, **({"unit_price_q": p} if p is not None else {})}
           for sku, qty, p in lines]
    return await sessions.modify_session(hub, channel_code=channel_code, session_key=session.session_key, ops=ops)


async def committed_order(hub: Hub, channel_code: str, lines: list[tuple[str, str, int | None]] | None = None) -> Order:
    session = await open_with_items(hub, channel_code, lines or [("COFFEE", "1", 550)])
    outcome = await commit.commit_session(hub, channel_code=channel_code, session_key=session.session_key,
                                          idempotency_key=uuid.uuid4().hex)
    assert outcome.order is not None
    return outcome.order

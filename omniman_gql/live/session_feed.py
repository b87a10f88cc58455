"""The changes of one session, for a POS watching it: the session now, then after each change, until it is final."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import select

from ..errors import ErrorCode, OmnimanError
from ..models import Session
from ..services.events import session_topic
from .eventlog import snapshot

if TYPE_CHECKING:
    from .shared import LiveFeeds


async def session_feed(live: LiveFeeds, *, channel_code: str, session_key: str) -> AsyncIterator[Session]:
    """The session now, then again after each change (modify, check write-back, commit, abandon), re-read from the
    database on each pub/sub message and every `live.poll_s` in case one was lost; ends after sending a committed or
    abandoned session, as those never change again.

    Errors: not_found.
    """
    poked = asyncio.Event()
    async with live.pubsub.subscribe([session_topic(channel_code, session_key)], lambda _message: poked.set()):
        last: tuple[object, ...] | None = None
        while True:
            async with snapshot(live.hub) as db:
                row = (await db.execute(select(Session).where(
                    Session.channel_code == channel_code, Session.session_key == session_key))).scalar_one_or_none()
            if row is None:
                raise OmnimanError(ErrorCode.NOT_FOUND, f"No session {session_key!r} in channel {channel_code!r}.",
                                   field=("session_key",))
            seen = (row.rev, row.state, row.updated_at)
            if seen != last:
                last = seen
                yield row
            if row.state != "open":
                return
            with anyio.move_on_after(live.poll_s):
                await poked.wait()
            poked.clear()

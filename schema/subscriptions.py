"""Subscriptions: `orderEvents` for kitchen displays and dashboards, `sessionChanged` for a POS watching its session.

Strawberry builds one context per websocket connection, so nothing here keeps a database session in it. Instead,
while a subscription's event is being resolved, `info.context.loaders` answers with loaders made for that event
(a context variable set in the task resolving it): for `orderEvents` they are shared by every subscriber of the
process for a couple of seconds, so nested fields (items, channel, events…) are read once per event, not once per
subscriber; the order and event rows themselves were read once per process by the feed's tail.

When accelerating, `orderEvents` over graphql-transport-ws is delivered directly: the tail's task writes the shared
`next` frame to the socket, and the subscription's own generator only yields what that declines
(`schema.accel_strawberry.websockets`).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator
from contextlib import suppress
from contextvars import ContextVar
from typing import Annotated, Any

import strawberry
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from omniman_gql.errors import OmnimanError
from omniman_gql.live.feed import OrderEventItem, order_event_feed
from omniman_gql.live.inbox import SubscriptionClosed
from omniman_gql.live.session_feed import session_feed
from omniman_gql.live.shared import LiveFeeds
from omniman_gql.outages import logged_outage
from omniman_gql.services.auth import Action
from omniman_gql.services.common import session_not_found

from .accel_strawberry.websockets import direct_delivery, resumed_subscription
from .context import Info
from .errors import ClientError, field_path
from .loaders import Loaders, create_loaders
from .permissions import authorize, caller, sees
from .types.order import Order, OrderEvent
from .types.session import Session

_event_loaders: ContextVar[Loaders | None] = ContextVar("omniman_event_loaders", default=None)
SHARED_TTL_S = 2.0
SHARED_MAX = 512


@strawberry.type(description="One order event, as the live stream delivers it.")
class OrderEventMessage:
    cursor: str = strawberry.field(description="Opaque position right after this message: pass it as `after` to "
                                               "resume with no gap and no duplicate.")
    type: str = strawberry.field(description="Equals `event.type`: `created`, `status_changed`, `payment.captured`…")
    order: Order = strawberry.field(description="The order, as read when the event was delivered.")
    ticket: str | None = strawberry.field(description="The order's pickup ticket (`order.ticket`), for displays "
                                                      "that call it out; null on a channel without tickets.")
    event: OrderEvent = strawberry.field(description="The event itself.")
    # The executions of this event's selections, shared by every subscriber of the process (see schema.fanout).
    shared_results: strawberry.Private[dict[Any, Any] | None] = None


class ScopedLoaders:
    """Stands in for `Context.loaders` on a websocket: the loaders of the event being resolved, else the
    connection's own (queries sent over the socket)."""

    __slots__ = ("fallback",)

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback

    def __getattr__(self, name: str) -> Any:
        return getattr(_event_loaders.get() or self.fallback, name)


class SharedEventViews:
    """Per process: for each event id, the mapped types, loaders and executed selections every subscriber shares,
    for a moment."""

    def __init__(self, live: LiveFeeds) -> None:
        self.live = live
        self._entries: OrderedDict[int, tuple[float, Loaders, Order, OrderEvent, dict[Any, Any]]] = OrderedDict()
        # The last `get`'s LoggedEvent and answer: a tail hands one event to each of its followers in turn.
        self._last: tuple[Any, tuple[Loaders, Order, OrderEvent, dict[Any, Any]]] | None = None
        self._message: OrderEventMessage | None = None  # the last message made: followers mostly share a cursor

    def get(self, item: OrderEventItem) -> tuple[Loaders, Order, OrderEvent, dict[Any, Any]]:
        last = self._last
        if last is not None and last[0] is item.logged:
            return last[1]
        now = time.monotonic()
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if oldest[0] > now and len(self._entries) < SHARED_MAX:
                break
            self._entries.popitem(last=False)
        event_id = int(item.event.id or 0)
        entry = self._entries.get(event_id)
        if entry is None:
            loaders = create_loaders(self.live.hub)
            logged = item.logged
            if logged.items is not None:  # read by the tail with the event: no transaction of the loaders' own
                loaders.items_by_order_id.prime(logged.order.id, list(logged.items))
            if logged.channel is not None:
                loaders.channel_by_code.prime(logged.channel.code, logged.channel)
            entry = (now + SHARED_TTL_S, loaders, Order.from_model(item.order), OrderEvent.from_model(item.event), {})
            self._entries[event_id] = entry
        answer = (entry[1], entry[2], entry[3], entry[4])
        self._last = (item.logged, answer)
        return answer

    def message(self, item: OrderEventItem) -> OrderEventMessage:
        """The item as the subscription yields it, with its event's loaders set for this task."""
        loaders, order, event, shared = self.get(item)
        _event_loaders.set(loaders)
        message = self._message
        if message is None or message.event is not event or message.cursor != item.cursor:
            message = self._message = OrderEventMessage(cursor=item.cursor, type=item.event.type, order=order,
                                                        ticket=order.ticket, event=event, shared_results=shared)
        return message


def _live(info: Info) -> LiveFeeds:
    live = getattr(info.context.request.state, "live", None) if info.context.request is not None else None
    if live is None:
        raise ClientError("Subscriptions are not served by this endpoint.", code="UNAVAILABLE")
    if not isinstance(info.context.loaders, ScopedLoaders):
        info.context.loaders = ScopedLoaders(info.context.loaders)  # type: ignore[assignment]
    return live


def _shared(live: LiveFeeds) -> SharedEventViews:
    views = live.attachments.get("event_views")
    if views is None:
        views = live.attachments["event_views"] = SharedEventViews(live)
    return views


def _edge_error(exc: OmnimanError, rename: dict[str, str]) -> ClientError:
    error = ClientError(exc.message, code=exc.code.value.upper())
    error.extensions = {**(error.extensions or {}), "field": field_path(exc.field, rename)}
    return error


def _outage_error(exc: Exception) -> ClientError | None:
    """A subscription's database or broker failure, as the UNAVAILABLE error its subscriber gets (then `complete`):
    it may subscribe again shortly, with its last cursor."""
    outage = logged_outage(exc, "subscription")
    if outage is None:
        return None
    return ClientError(outage.message, code="UNAVAILABLE")


@strawberry.type(description="Live streams over the `graphql-transport-ws` websocket protocol.")
class Subscription:
    @strawberry.subscription(description=(
        "New orders and every later order event (status changes, payments, notes, fulfillments), oldest first. "
        "`after` resumes from a message's `cursor`: what was missed is replayed from the database, then the stream "
        "goes on live, with no gap and no duplicate. Without `after`, only events from now on are sent. A "
        "subscriber that falls too far behind gets an error with code SUBSCRIBER_LAGGED and should resubscribe "
        "with its last cursor. Errors: INVALID_INPUT (bad cursor or filters), UNAVAILABLE (the database or the "
        "broker is down: resubscribe shortly with the last cursor)."))
    async def order_events(
        self,
        info: Info,
        channel_codes: Annotated[list[str] | None, strawberry.argument(
            description="Channels to follow; all the caller may see when null.")] = None,
        statuses: Annotated[list[str] | None, strawberry.argument(
            description="Only events after which the order has one of these statuses.")] = None,
        after: Annotated[str | None, strawberry.argument(
            description="The `cursor` of the last message received, to resume after it.")] = None,
    ) -> AsyncGenerator[OrderEventMessage, None]:
        authorize(info, Action.READ)
        live = _live(info)
        channels = caller(info).visible(channel_codes)
        if channels is not None and not channels:
            raise ClientError("None of these channels exist.", code="NOT_FOUND")
        views = _shared(live)
        delivery = direct_delivery(live, views)  # None unless accelerating over graphql-transport-ws
        resumed = resumed_subscription.get()  # a parked subscription's pipeline, running again
        feed = order_event_feed(live, channel_codes=channels, statuses=statuses, after=after, deliver=delivery,
                                resume=delivery.resume if delivery is not None else None,
                                adopt=resumed[0] if resumed is not None else None)
        try:
            async for item in feed:
                yield views.message(item)
        except OmnimanError as exc:
            raise _edge_error(exc, {"channel_codes": "channelCodes"}) from None
        except SubscriptionClosed as exc:
            raise ClientError(exc.reason, code=exc.code.upper()) from None
        except Exception as exc:
            error = _outage_error(exc)
            if error is None:
                raise
            raise error from None
        finally:
            await feed.aclose()

    @strawberry.subscription(description=(
        "One session: first as it is now, then again after each change (modify, check results written back, "
        "commit, abandon). The stream completes after a committed or abandoned session. Errors: NOT_FOUND, "
        "UNAVAILABLE (the database or the broker is down: subscribe again shortly)."))
    async def session_changed(
        self,
        info: Info,
        channel_code: Annotated[str, strawberry.argument(description="Code of the session's channel.")],
        session_key: Annotated[str, strawberry.argument(description="Key of the session.")],
    ) -> AsyncGenerator[Session, None]:
        authorize(info, Action.READ)
        live = _live(info)
        if not sees(info, channel_code):  # answered exactly as a session that does not exist
            raise _edge_error(session_not_found(channel_code, session_key), {"session_key": "sessionKey"})
        feed = session_feed(live, channel_code=channel_code, session_key=session_key)
        try:
            async for row in feed:
                _event_loaders.set(create_loaders(live.hub))  # fresh per change: nothing cached across changes
                yield Session.from_model(row)
        except OmnimanError as exc:
            raise _edge_error(exc, {"session_key": "sessionKey"}) from None
        except Exception as exc:
            error = _outage_error(exc)
            if error is None:
                raise
            raise error from None
        finally:
            await feed.aclose()



class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """The legacy `graphql-ws` protocol (only served when `legacy_graphql_ws` is on), with the same
    `connection_init` timeout as graphql-transport-ws: Strawberry's own handler for it has none."""

    async def handle(self) -> None:
        delay = self.view.connection_init_wait_timeout.total_seconds()  # type: ignore[attr-defined]
        watchdog = asyncio.create_task(self._close_unless_initialised(delay))
        try:
            await super().handle()
        finally:
            watchdog.cancel()
            with suppress(asyncio.CancelledError):
                await watchdog

    async def _close_unless_initialised(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if not self.connection_acknowledged:
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")

"""Websocket auth: the token of `connection_init` (4401 when missing or bad, 1013 when the database cannot say), the
cap on a token's open sockets (4429), and closing a revoked token's sockets."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage as LegacyInitMessage

from omniman_gql.outages import logged_outage

from .accel_strawberry.websockets import DirectDeliveryHandler
from .context import Context
from .subscriptions import LegacyGraphQLWSHandler
from .text_input import NUL_MESSAGE, contains_nul
from .ws_slots import TOO_MANY_SOCKETS, SocketSlots, TooManySockets

UNAUTHORIZED = 4401
TRY_AGAIN_LATER = 1013  # RFC 6455's registry: the server cannot serve now, the client may reconnect shortly


class TokenRejected(Exception):
    """`connection_init` carried no valid token: the socket is closed with 4401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def connection_token(params: Mapping[str, Any] | None) -> str | None:
    """The `Authorization` value of a `connection_init` payload (the key in any case)."""
    for key, value in (params or {}).items():
        if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
            return value
    return None


class _Guard:
    """What both protocol handlers share: run `connection_init` through the view's token check, close with 4401
    when it fails, with 4429 when the token holds its share of sockets already, and close the socket when its token
    is revoked."""

    context: Context
    websocket: Any
    view: Any
    connection_acknowledged: bool
    _unwatch: Callable[[], None] | None = None
    _release_slot: Callable[[], None] | None = None

    async def _closed_unless_authenticated(self, init: Callable[[], Awaitable[None]]) -> None:
        try:
            await init()
        except TokenRejected as exc:
            await self.websocket.close(code=UNAUTHORIZED, reason=exc.reason)
            return
        except TooManySockets as exc:
            await self.websocket.close(code=TOO_MANY_SOCKETS, reason=exc.reason)
            return
        except Exception as exc:
            outage = logged_outage(exc, "websocket connection_init")
            if outage is None:
                raise
            await self.websocket.close(code=TRY_AGAIN_LATER, reason=outage.message)
            return
        principal = self.context.principal
        request = self.context.request
        live = getattr(request.state, "live", None) if request is not None else None
        if principal is not None and principal.token_id is not None and self._unwatch is None and live is not None:
            self._unwatch = live.revocations.watch(principal.token_id, self._revoked)

    async def _revoked(self) -> None:
        await self.websocket.close(code=UNAUTHORIZED, reason="The API token was revoked.")

    def _take_slot(self, message: Any) -> None:
        """Called with each message sent until the socket is acknowledged: before `connection_ack` goes out (the
        token is known by then), take a slot of the token's, or raise TooManySockets and send nothing."""
        if self._release_slot is not None or message.get("type") != "connection_ack":
            return
        principal = self.context.principal
        request = self.context.request
        live = getattr(request.state, "live", None) if request is not None else None
        if principal is None or principal.token_id is None or live is None:
            return  # no live stream (no subscriptions to hold open either) or no token to count against
        slots = live.attachments.get("socket_slots")
        if slots is None:
            slots = live.attachments["socket_slots"] = SocketSlots(self.view.settings.max_websockets_per_token)
        self._release_slot = slots.take(principal.token_id)

    def _stop_watching(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        if self._release_slot is not None:
            self._release_slot()


_TEXTS: OrderedDict[str, str] = OrderedDict()
TEXTS_MAX = 256


def shared_text(query: str) -> str:
    """One string object for every subscription sending this document text: Strawberry keeps the text of each
    operation for its whole life, and displays send the same text.
    The most recent `TEXTS_MAX` distinct texts are remembered."""
    known = _TEXTS.get(query)
    if known is None:
        known = _TEXTS[query] = query
        if len(_TEXTS) > TEXTS_MAX:
            _TEXTS.popitem(last=False)
    return known


def malformed(message: Any, *, with_id: tuple[str, ...], with_query: str) -> str | None:
    """Why a websocket message cannot be handled (None when it can): the protocols index into messages freely,
    so a hostile shape would otherwise raise inside the connection's task."""
    if not isinstance(message, dict):
        return "A message must be a JSON object."
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message needs a string `type`."
    if kind in with_id and not isinstance(message.get("id"), str):
        return f"A `{kind}` message needs a string `id`."
    if kind == with_query:
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return f"A `{kind}` message needs `payload.query`, a string."
        if not isinstance(payload.get("variables") or {}, dict) or \
                not isinstance(payload.get("operationName") or "", str):
            return "`payload.variables` must be an object and `payload.operationName` a string."
        if contains_nul(payload.get("variables")):
            return NUL_MESSAGE
    return None


class AuthGraphQLTransportWSHandler(DirectDeliveryHandler, _Guard, BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with token auth (and, when accelerating, direct delivery). A `subscribe` before
    `connection_init` is closed with 4401 by the protocol itself; a malformed message closes the socket with 4400."""

    async def handle_message(self, message: Any) -> None:
        problem = malformed(message, with_id=("subscribe", "complete"), with_query="subscribe")
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await self._closed_unless_authenticated(lambda: super(AuthGraphQLTransportWSHandler, self)
                                                .handle_connection_init(message))

    async def send_message(self, message: Any) -> None:
        if not self.connection_acknowledged:  # one attribute test per message once the socket is open
            self._take_slot(message)
        await super().send_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if self.connection_acknowledged and limit is not None and len(self.operations) >= limit \
                and message["id"] not in self.operations:  # Strawberry's own refusal says less
            error = {"message": f"Subscription limit reached: at most {limit} operations run at the same time on "
                                "one connection; complete one first (or open another connection).",
                     "extensions": {"code": "LIMIT_EXCEEDED"}}
            refusal: Any = {"id": message["id"], "type": "error", "payload": [error]}
            await self.send_message(refusal)
            return
        payload = message["payload"]
        refused = self.connection_acknowledged and await self.view.persisted.untrusted(self.context.hub,
                                                                                       payload["query"])
        if refused:  # trusted-documents mode: only registered documents subscribe, as over HTTP
            await self.send_message({"id": message["id"], "type": "error", "payload": [refused]})
            return
        payload["query"] = shared_text(payload["query"])
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        self._stop_watching()
        await super().shutdown()


class AuthLegacyGraphQLWSHandler(_Guard, LegacyGraphQLWSHandler):
    """The legacy graphql-ws protocol (behind its setting) with the same token auth."""

    async def handle_message(self, message: Any) -> None:
        problem = malformed(message, with_id=("start", "stop"), with_query="start")
        if problem is not None:
            await self.websocket.close(code=4400, reason=problem)
            return
        await super().handle_message(message)

    async def handle_start(self, message: Any) -> None:
        refused = self.connection_acknowledged and await self.view.persisted.untrusted(
            self.context.hub, message["payload"]["query"])
        if refused:  # trusted-documents mode, as over graphql-transport-ws
            await self.send_message({"type": "error", "id": message["id"], "payload": refused})
            return
        await super().handle_start(message)

    async def handle_connection_init(self, message: LegacyInitMessage) -> None:
        await self._closed_unless_authenticated(lambda: super(AuthLegacyGraphQLWSHandler, self)
                                                .handle_connection_init(message))

    async def send_message(self, message: Any) -> None:
        if not self.connection_acknowledged:
            self._take_slot(message)
        await super().send_message(message)

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self._stop_watching()

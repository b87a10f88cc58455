"""The GraphQL endpoint: Strawberry's ASGI view with our context, token auth, GraphiQL and subscription protocols."""

import json
import re
from datetime import timedelta
from functools import cached_property
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLRequestData, process_result
from cross_web import HTTPException
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from omniman_gql.runtime import Hub
from omniman_gql.services.auth import Action, Principal, authenticate, bearer_secret
from omniman_gql.settings import Settings

from .context import BAD_TOKEN, NO_TOKEN, Context
from .extensions import NUL_MESSAGE, contains_nul
from .fanout import MessageEncoder
from .graphiql import graphiql_page
from .ws_auth import AuthGraphQLTransportWSHandler, AuthLegacyGraphQLWSHandler, TokenRejected, connection_token

MESSAGE_TOO_BIG = 1009  # RFC 6455: a websocket message larger than the server accepts
NO_BATCHING = "Batched requests (a JSON array of operations) are not accepted: send one operation per request."
NOT_AN_OBJECT = 'Send a JSON object: {"query": "…", "variables": {…}, "operationName": "…"}.'
HTTP_OPERATIONS = {"GET": {OperationType.QUERY}, "POST": {OperationType.QUERY, OperationType.MUTATION}}


class OmnimanGraphQL(GraphQL[Context, None]):
    """POST and GET (queries only) on /graphql, GraphiQL in browsers, and websockets for subscriptions."""

    graphql_transport_ws_handler_class = AuthGraphQLTransportWSHandler
    graphql_ws_handler_class = AuthLegacyGraphQLWSHandler

    def __init__(self, schema: BaseSchema, *, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,  # Strawberry refuses mutations over GET
            # graphql-transport-ws always; the legacy graphql-ws only when a setting asks for it
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,
                                    *((GRAPHQL_WS_PROTOCOL,) if settings.legacy_graphql_ws else ())),
            connection_init_wait_timeout=timedelta(seconds=settings.connection_init_timeout_s),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        )
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # HTTP bodies are bounded by the app's middleware; websocket messages here
            receive = _bounded_messages(receive, send, self.settings.max_body_bytes)
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        hub: Hub = request.state.hub
        if isinstance(request, WebSocket):  # the token comes with `connection_init` (see `on_ws_connect`)
            return Context.create(hub, request=request, response=response)
        problem = BAD_TOKEN if "authorization" in request.headers else NO_TOKEN
        return Context.create(hub, principal=await self.principal_for(request, hub), auth_problem=problem,
                              request=request, response=response)

    async def principal_for(self, request: Request | WebSocket, hub: Hub) -> Principal | None:
        """Who is calling over HTTP: the live token of `Authorization: Bearer …`, else None (UNAUTHENTICATED)."""
        secret = bearer_secret(request.headers.get("authorization"))
        if not secret:
            return None
        tokens = getattr(request.state, "tokens", None)  # the live stream's TokenCache, when the app has one
        return await (tokens.authenticate(secret) if tokens is not None else authenticate(hub, secret))

    async def on_ws_connect(self, context: Context) -> Any:
        """`connection_init`: its payload's `Authorization` (key in any case) must hold a live token (else 4401);
        a role that may not read at all is refused with 4403."""
        header = connection_token(context.connection_params)
        if header is None:
            raise TokenRejected("No API token: send {\"Authorization\": \"Bearer <token>\"} in connection_init.")
        secret = bearer_secret(header)
        principal = await authenticate(context.hub, secret) if secret else None
        if principal is None:
            raise TokenRejected(BAD_TOKEN)
        if not principal.can(Action.READ):
            raise ConnectionRejectionError()
        context.principal = principal
        return await super().on_ws_connect(context)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """A POST (every mutation): Strawberry's steps for one JSON operation, minus those that cannot apply to it
        (the websocket, IDE and method checks; streamed, incremental and batched results: no HTTP stream transport
        is enabled, incremental execution is off and a batch is refused while parsing) and minus the awaits of its
        no-op hooks (`get_root_value`, `process_result`). Anything else, and a caller passing its own context or
        root value, takes Strawberry's `run`."""
        if (request.scope["type"] != "http" or request.scope["method"] != "POST" or context is not UNSET
                or root_value is not UNSET or not self._single_results):
            return await super().run(request, context, root_value)
        request_adapter = self.request_adapter_class(request)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        try:
            request_data = await self.parse_http_body(request_adapter)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        except KeyError as exc:
            raise HTTPException(400, "File(s) missing in form data") from exc
        result = await self.execute_single(request, request_adapter, sub_response, context, None, request_data)
        response_data = process_result(result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    @cached_property
    def _single_results(self) -> bool:
        """Whether every POST yields one plain ExecutionResult: no HTTP stream transport, no incremental delivery."""
        return not self._stream_transport_map and not self.schema.config.enable_experimental_incremental_execution

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """A POST whose Content-Type is plainly JSON (`application/json`, maybe with `; charset=…`) is read here
        with Strawberry's checks and messages, without its Content-Type parsing through the `email` package and
        its scan of the headers for a streaming `Accept` (no HTTP stream transport is enabled). Anything else, or
        a header whose type Python's email parser might read differently (quotes, `=`), goes to Strawberry."""
        if request.method != "POST" or not self._single_results or not _plainly_json(request.content_type):
            return await super().parse_http_body(request)
        body = await request.get_body()
        data = self.parse_json(body)
        if isinstance(data, list):
            self._validate_batch_request(data, protocol="http")  # refuses every batch (400)
        query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
        if not isinstance(query, str | None):
            raise HTTPException(400, "The GraphQL operation's `query` must be a string or null, if provided.")
        if not isinstance(variables, dict | None):
            raise HTTPException(400, "The GraphQL operation's `variables` must be an object or null, if provided.")
        if not isinstance(extensions, dict | None):
            raise HTTPException(400, "The GraphQL operation's `extensions` must be an object or null, if provided.")
        checked = NulFreeRequestData if _nul_free(body) else GraphQLRequestData
        return checked(query=query, variables=variables, operation_name=data.get("operationName"),
                       extensions=extensions, protocol="http")

    def _validate_batch_request(self, request_data: list[Any], protocol: Any) -> None:
        raise HTTPException(400, NO_BATCHING)

    def decode_json(self, data: str | bytes) -> object:
        """JSON of a body or a websocket message; absurd nesting or bad UTF-8 is a parse error, like bad syntax."""
        try:
            return super().decode_json(data)
        except (RecursionError, UnicodeDecodeError):
            raise json.JSONDecodeError("not UTF-8 JSON, or nested too deeply", "", 0) from None

    def parse_json(self, data: str | bytes) -> Any:
        value = super().parse_json(data)
        if not isinstance(value, dict | list):
            raise HTTPException(400, NOT_AN_OBJECT)
        return value

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any, context: Context,
                             root_value: Any, request_data: GraphQLRequestData) -> ExecutionResult:
        """One operation over HTTP: queries (GET or POST) and mutations (POST); subscriptions need a websocket."""
        allowed = HTTP_OPERATIONS.get(request_adapter.method, set())
        if not isinstance(request_data, NulFreeRequestData) and contains_nul(request_data.variables):
            raise HTTPException(400, NUL_MESSAGE)
        try:
            return await self.schema.execute(
                request_data.query, root_value=root_value, variable_values=request_data.variables,
                context_value=context, operation_name=request_data.operation_name, allowed_operation_types=allowed,
                operation_extensions=request_data.extensions)
        except InvalidOperationTypeError as exc:
            reason = exc.as_http_error_reason(request_adapter.method)
            if exc.operation_type is OperationType.SUBSCRIPTION:
                reason = "Subscriptions are served over websockets only (the graphql-transport-ws protocol)."
            raise HTTPException(400, reason) from exc
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request.") from exc

    def encode_json(self, data: object) -> str:
        """Websocket messages; a `next` payload shared by many subscribers is encoded once (schema.fanout)."""
        return self._encoder.encode(data)

    @cached_property
    def _encoder(self) -> MessageEncoder:
        return MessageEncoder()

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_page(self.graphql_ide_html))


class NulFreeRequestData(GraphQLRequestData):
    """Request data decoded from a body that cannot hold a NUL anywhere (see `_nul_free`): its variables need no
    walk looking for one."""


def _nul_free(body: object) -> bool:
    """Whether no string decoded from this JSON body can hold a NUL: it has no zero byte (so it is read as UTF-8,
    not UTF-16 or UTF-32, whose text always has some) and no `\\u0000` escape, the only way to write a NUL in a JSON
    string (a raw control character is a syntax error). An escaped backslash before `u0000` only makes this say no."""
    return isinstance(body, bytes) and b"\x00" not in body and b"\\u0000" not in body


def _plainly_json(content_type: str | None) -> bool:
    """Whether Strawberry would take this Content-Type as JSON, decided without the `email` package: its media type
    is the text before the first `;` (stripped) when that text holds no quote or `=` (else: not decided here)."""
    media_type = (content_type or "").partition(";")[0]
    return "application/json" in media_type and '"' not in media_type and "=" not in media_type


def _bounded_messages(receive: Receive, send: Send, max_bytes: int) -> Receive:
    """`receive` for a websocket whose messages may be at most `max_bytes`: a larger one closes the socket (1009)."""

    async def bounded() -> Message:
        message = await receive()
        if message["type"] == "websocket.receive":
            size = len((message.get("text") or "").encode()) + len(message.get("bytes") or b"")
            if size > max_bytes:
                await send({"type": "websocket.close", "code": MESSAGE_TOO_BIG,
                            "reason": f"Messages are limited to {max_bytes} bytes."})
                return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
        return message

    return bounded

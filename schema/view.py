"""The GraphQL endpoint: Strawberry's ASGI view with our context, token auth, GraphiQL and subscription protocols."""

import json
from datetime import timedelta
from functools import cached_property
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from omniman_gql.infra import observability
from omniman_gql.outages import Unavailable, error_body, logged_outage
from omniman_gql.runtime import Hub
from omniman_gql.services.auth import Action, Principal, authenticate, bearer_secret
from omniman_gql.settings import Settings

from .context import BAD_TOKEN, NO_TOKEN, Context
from .errors import ClientError
from .fanout import MessageEncoder
from .graphiql import graphiql_page
from .http_errors import error_response, is_request_error, media_type, tag_request_errors, wants_graphql_response
from .persisted import PersistedQueries, Refused
from .rate_classes import RateClasses
from .rate_limiting import (
    RateLimited,
    charge,
    check_address,
    failed_authentication,
    limiter_of,
    too_many_requests,
)
from .text_input import NUL_MESSAGE, contains_nul
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
            allowed_origins=settings.cors_origins,  # pages on these origins may open websockets (see docs/deploy.md)
        )
        self.settings = settings
        self.rate_classes = RateClasses(max_tokens=settings.max_query_tokens)
        self.persisted = PersistedQueries(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # HTTP bodies are bounded by the app's middleware; websocket messages here
            receive = _bounded_messages(receive, send, self.settings.max_body_bytes)
            await super().__call__(scope, receive, send)
            return
        # Strawberry's HTTP branch, plus: an outage before any operation ran (the token lookup, above all) is the
        # JSON 503 a client may retry, not an exception for Starlette's plain-text 500.
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:  # every refusal is GraphQL JSON (docs/http.md), never Strawberry's plain text
            response = error_response(exc.status_code, exc.reason,
                                      graphql_response=wants_graphql_response(_header(scope, b"accept")))
        except RateLimited as exc:
            response = too_many_requests(exc.refusal)
        except Exception as exc:
            outage = logged_outage(exc, "http")
            if outage is None:
                raise
            response = self.unavailable_response(outage)
        await response(scope, receive, send)

    def unavailable_response(self, outage: Unavailable) -> Response:
        """503 with `Retry-After` and the GraphQL-shaped UNAVAILABLE error: nothing of the request ran."""
        return JSONResponse(error_body(outage), status_code=503,
                            headers={"retry-after": str(self.settings.unavailable_retry_after_s)})

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """Strawberry's JSON response; an operation that produced no data because of an outage alone is a 503 with
        `Retry-After` (a client may retry it; the same idempotency key makes a retried commit safe). With some
        data, or any other error beside it, it stays 200, as GraphQL over HTTP answers field errors."""
        graphql_response = isinstance(sub_response, GraphQLSubResponse) and sub_response.graphql_response
        if graphql_response and is_request_error(response_data):  # nothing ran: 400 (GraphQL over HTTP)
            sub_response.status_code = 400
        sub_response.headers["cache-control"] = "no-store"  # answers depend on the caller's token: never cached
        errors = response_data.get("errors") if isinstance(response_data, dict) else None
        if errors and response_data.get("data") is None and all(
                isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "UNAVAILABLE" for e in errors):
            sub_response.status_code = 503
            sub_response.headers["retry-after"] = str(self.settings.unavailable_retry_after_s)
        response = super().create_response(response_data, sub_response)
        if graphql_response:
            response.headers["content-type"] = media_type(True)
        return response

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = GraphQLSubResponse(graphql_response=wants_graphql_response(request.headers.get("accept")))
        sub_response.status_code = None  # type: ignore[assignment]  # as Strawberry's: unset until a hook sets it
        del sub_response.headers["content-length"]
        return sub_response

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL for a browser's GET without an operation; a GET naming a persisted query is that query."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(request)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        hub: Hub = request.state.hub
        if isinstance(request, WebSocket):  # the token comes with `connection_init` (see `on_ws_connect`)
            return Context.create(hub, request=request, response=response)
        await check_address(request)  # an address over its bad-token rate is refused, whatever token it sends now
        problem = BAD_TOKEN if "authorization" in request.headers else NO_TOKEN
        principal = await self.principal_for(request, hub)
        if principal is None and problem == BAD_TOKEN:
            await failed_authentication(request)
        return Context.create(hub, principal=principal, auth_problem=problem, request=request, response=response)

    async def principal_for(self, request: Request | WebSocket, hub: Hub) -> Principal | None:
        """Who is calling over HTTP: the live token of `Authorization: Bearer …`, else None (UNAUTHENTICATED)."""
        secret = bearer_secret(request.headers.get("authorization"))
        if not secret:
            return None
        tokens = getattr(request.state, "tokens", None)  # the live stream's TokenCache, when the app has one
        return await (tokens.authenticate(secret) if tokens is not None else authenticate(hub, secret))

    async def on_ws_connect(self, context: Context) -> Any:
        """`connection_init`: its payload's `Authorization` (key in any case) must hold a live token (else 4401,
        counted against the address's bad-token rate); a role that may not read at all is refused with 4403; an
        address over its bad-token rate is closed with 4429 whatever token it sends."""
        websocket = context.request
        await check_address(websocket)
        header = connection_token(context.connection_params)
        if header is None:
            raise TokenRejected("No API token: send {\"Authorization\": \"Bearer <token>\"} in connection_init.")
        secret = bearer_secret(header)
        principal = await authenticate(context.hub, secret) if secret else None
        if principal is None:
            await failed_authentication(websocket)
            raise TokenRejected(BAD_TOKEN)
        if not principal.can(Action.READ):
            raise ConnectionRejectionError()
        context.principal = principal
        return await super().on_ws_connect(context)

    def decode_json(self, data: str | bytes) -> object:
        """JSON of a body or a websocket message; absurd nesting or bad UTF-8 is a parse error, like bad syntax."""
        try:
            return super().decode_json(data)
        except (RecursionError, UnicodeDecodeError):
            raise json.JSONDecodeError("not UTF-8 JSON, or nested too deeply", "", 0) from None

    def parse_json(self, data: str | bytes) -> Any:
        """A request body's JSON: one operation object (a batch, a JSON array, is refused with 400)."""
        value = super().parse_json(data)
        if isinstance(value, list):
            raise HTTPException(400, NO_BATCHING)
        if not isinstance(value, dict):
            raise HTTPException(400, NOT_AN_OBJECT)
        return value

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any, context: Context,
                             root_value: Any, request_data: GraphQLRequestData) -> ExecutionResult:
        """One operation over HTTP: queries (GET or POST) and mutations (POST); subscriptions need a websocket.
        Without a valid token the answer is UNAUTHENTICATED before the document is even parsed: parsing and
        validating an unknown caller's document would let anyone spend the hub's CPU (both accelerator modes get
        here, and GraphiQL's page is served before it)."""
        if context.principal is None:
            return unauthenticated(self.settings, context.auth_problem)
        allowed = HTTP_OPERATIONS.get(request_adapter.method, set())
        if not isinstance(request_data, NulFreeRequestData) and contains_nul(request_data.variables):
            raise HTTPException(400, NUL_MESSAGE)
        try:
            query, to_store = await self.persisted.document_for(context.hub, request_data.query,
                                                                request_data.extensions)
        except Refused as refused:  # refused documents count as reads: an unknown hash still cost a lookup
            if limiter_of(request) is not None:
                await charge(request, context.principal, ("read",))
            return ExecutionResult(data=None, errors=[ClientError(refused.message, code=refused.code.value)])
        if limiter_of(request) is not None:  # over a rate: refused before the document is validated or run
            # Charged on the document that will run, so a hash-only (persisted) commit counts as a commit.
            await charge(request, context.principal, self.rate_classes.classes(query, request_data.operation_name))
        try:
            result = await self.schema.execute(
                query, root_value=root_value, variable_values=request_data.variables,
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
        if result.errors:
            tag_request_errors(result.errors)
        if to_store is not None:
            await self.persisted.remember(context.hub, to_store, result.errors)
        return result

    def encode_json(self, data: object) -> str:
        """Websocket messages; a `next` payload shared by many subscribers is encoded once (schema.fanout)."""
        return self._encoder.encode(data)

    @cached_property
    def _encoder(self) -> MessageEncoder:
        return MessageEncoder()

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_page(self.graphql_ide_html), headers={"cache-control": "no-cache"})


def unauthenticated(settings: Settings, problem: str) -> ExecutionResult:
    """The answer to a request without a valid token: the top-level UNAUTHENTICATED error a resolver would raise,
    counted in the metrics and the request's log line like any refused operation (its document unread)."""
    observability.operation_finished(settings, observability.OperationReport(
        operation="invalid", operation_type="unknown", operation_name=None, actor=None, outcome="error",
        error_codes=("UNAUTHENTICATED",), duration_s=0.0, transport="http"))
    return ExecutionResult(data=None, errors=[ClientError(problem, code="UNAUTHENTICATED")])


class GraphQLSubResponse(Response):
    """The response a request's hooks may change, remembering whether the client asked for
    `application/graphql-response+json`."""

    def __init__(self, *, graphql_response: bool) -> None:
        super().__init__()
        self.graphql_response = graphql_response


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class NulFreeRequestData(GraphQLRequestData):
    """Request data decoded from a body that cannot hold a NUL anywhere (`accel_strawberry.http`): its variables
    need no walk looking for one."""


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

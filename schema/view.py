"""The GraphQL endpoint: Strawberry's ASGI view with our context, GraphiQL example and subscription protocols."""

import json
import re
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from omniman_gql.runtime import Hub
from omniman_gql.services.auth import Principal
from omniman_gql.settings import Settings

from .context import ANONYMOUS, Context
from .quickstart import QUICK_START
from .subscriptions import LegacyGraphQLWSHandler

_EXAMPLE = re.compile(r"const EXAMPLE_QUERY = `.*?`;", re.DOTALL)


def graphiql_with_example(html: str, example: str = QUICK_START) -> str:
    """Strawberry's GraphiQL page, opening on our example instead of its welcome text."""
    return _EXAMPLE.sub(lambda _: f"const EXAMPLE_QUERY = {json.dumps(example)};", html, count=1)


class OmnimanGraphQL(GraphQL[Context, None]):
    """POST and GET (queries only) on /graphql, GraphiQL in browsers, and websockets for subscriptions."""

    graphql_ws_handler_class = LegacyGraphQLWSHandler

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

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        hub: Hub = request.state.hub
        return Context.create(hub, principal=await self.principal_for(request, hub), request=request,
                              response=response)

    async def principal_for(self, request: Request | WebSocket, hub: Hub) -> Principal:
        """Who is calling. Until tokens are enforced everyone is ANONYMOUS (an admin named "anonymous")."""
        return ANONYMOUS

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_with_example(self.graphql_ide_html))
